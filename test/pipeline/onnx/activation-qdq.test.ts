/**
 * Static int8 activations in the ONNX export: QuantizeLinear → DequantizeLinear (int8, per tensor) on the input and
 * every layer output but the model's, scaled by the calibrated ranges; the file passes the official checker, and
 * onnxruntime (as written, and with its fused integer kernels) stays close to the weight-only model.
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { calibrateActivations } from '../../../pipeline/activation-calibration.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { activationQuantization } from '../../../pipeline/onnx/activation-qdq.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { checkParity } from '../../../pipeline/parity.ts';
import { quantizeModel } from '../../../pipeline/weight-storage.ts';
import { exampleCnn, functionalResidual, randomInputs } from '../../fixtures/models.ts';
import { inspectModel, runOnnxChecker, tempDir, useReferenceBackend } from './helpers.ts';

let dir: string;
before(async () => {
  await useReferenceBackend();
  dir = tempDir();
});

async function run(bytes: Uint8Array, x: Float32Array, shape: number[], optimize: boolean): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: optimize ? 'all' : 'disabled' });
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, shape) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

test('int8 scale and zero point: the range widened to hold 0, zero exact', () => {
  const { scale, zeroPoint } = activationQuantization({ min: 0.5, max: 2 });
  assert.equal(zeroPoint, -128, 'a positive range starts at 0');
  assert.equal(scale, Math.fround(2 / 255));
  const signed = activationQuantization({ min: -1, max: 3 });
  assert.ok(Math.abs((-128 - signed.zeroPoint) * signed.scale + 1) <= signed.scale, 'the low end maps near −128');
});

test('QDQ after the input and every inner layer output; checker passes; onnxruntime stays near the weight-only model', async (t) => {
  const written: string[] = [];
  for (const make of [exampleCnn, functionalResidual]) {
    const model = make();
    const ir = quantizeModel(await irFromTfjsModel(model), { dtype: 'int8', symmetric: true }, (_l, w) => w.shape.length >= 2);
    const [input] = randomInputs(model, 32);
    const x = input!.dataSync() as Float32Array;
    const shape = input!.shape;
    const samples = { x, y: new Int32Array(32), count: 32, sampleShape: shape.slice(1), numClasses: 2 };
    const calibration = await calibrateActivations(ir, samples, { engine: 'tfjs' });
    const bytes = exportOnnx(ir, { activationRanges: calibration.ranges });
    const path = join(dir, `${model.name}-qdq.onnx`);
    writeFileSync(path, bytes);
    written.push(path);
    const graph = inspectModel(bytes).graph;
    const quantized = graph.node.filter((n) => n.opType === 'QuantizeLinear').map((n) => n.input[0]!);
    assert.ok(quantized.includes(ir.inputs[0]!), 'the input is quantised');
    assert.ok(quantized.length >= ir.layers.length - ir.outputs.length - 1, `${model.name}: ${quantized.length} quantised tensors`);
    assert.ok(!graph.output.some((o) => graph.node.some((n) => n.opType === 'DequantizeLinear' && n.output[0] === o.name)), 'outputs stay float');
    const reference = await run(exportOnnx(ir), x, shape, false);
    for (const optimize of [false, true]) {
      const p = checkParity({ reference, candidate: await run(bytes, x, shape, optimize), samples: 32 });
      assert.ok(p.top1Agreement >= 0.9, `${model.name} (${optimize ? 'fused kernels' : 'as written'}): top-1 agreement ${p.top1Agreement}`);
    }
    input!.dispose();
    model.dispose();
  }
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});
