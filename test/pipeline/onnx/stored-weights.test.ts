/**
 * The ONNX export honours weight storage: int8 becomes INT8 initializers + DequantizeLinear (per axis for per-channel
 * weights, whatever the kernel's reordering), float16 a FLOAT16 initializer + Cast, tfjs uint8/uint16 a code
 * initializer + lookup table — each encoding exactly the IR's values, smaller than float32, and valid for the
 * official checker. (onnxruntime's default optimisations run DequantizeLinear → Conv/MatMul with integer kernels,
 * which is why int8 exports are checked as quantised formats; with its QDQ handling off they compute the IR exactly.)
 */
import assert from 'node:assert/strict';
import * as ort from 'onnxruntime-node';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { checkParity } from '../../../pipeline/parity.ts';
import { withOnnxEncoding } from '../../../pipeline/quantize/onnx-encoding.ts';
import { quantizeModel, quantizeWeight, type StorageSpec } from '../../../pipeline/weight-storage.ts';
import { depthwiseNet, exampleCnn, functionalResidual, predictFlat, randomInputs } from '../../fixtures/models.ts';
import { inspectModel, runOnnxChecker, tempDir, useReferenceBackend } from './helpers.ts';

let dir: string;
const written: string[] = [];
before(async () => {
  await useReferenceBackend();
  dir = tempDir();
});

/** Per-channel int8 on each kernel's output-channel axis (the depthwise kernel's input channels, to exercise C·m). */
function perChannel(ir: ModelIR): ModelIR {
  return {
    ...ir,
    layers: ir.layers.map((l) => ({
      ...l,
      weights: l.weights.map((w) => (/kernel$/.test(w.name) ? quantizeWeight(w, { dtype: 'int8', symmetric: true, axis: w.name === 'depthwise_kernel' ? 2 : w.shape.length - 1 }) : w)),
    })),
  };
}

/** The first output on onnxruntime; `exact`: without its QDQ fusions, so DequantizeLinear runs as written. */
async function runOrt(bytes: Uint8Array, x: tf.Tensor, exact: boolean): Promise<Float32Array> {
  const options = exact ? ({ extra: { session: { disable_quant_qdq: '1' } } } as ort.InferenceSession.SessionOptions) : {};
  const session = await ort.InferenceSession.create(bytes, options);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) });
    return out[session.outputNames[0]!]!.data as Float32Array;
  } finally {
    await session.release();
  }
}

/** Bytes of all initializers: the weights the file carries. */
const weightBytes = (bytes: Uint8Array) => inspectModel(bytes).graph.initializer.reduce((n, i) => n + i.rawData.length, 0);

async function exportAndRun(model: tf.LayersModel, ir: ModelIR, label: string) {
  const bytes = exportOnnx(ir, { opset: 13 });
  const path = join(dir, `${model.name}-${label.replace(/\W+/g, '_')}.onnx`);
  writeFileSync(path, bytes);
  written.push(path);
  const inputs = randomInputs(model, 4);
  const tfjs = await buildTfjsModel(ir);
  const [expected] = await predictFlat(tfjs, inputs);
  const parity = checkParity({ reference: expected!, candidate: await runOrt(bytes, inputs[0]!, true), samples: 4 });
  const defaults = checkParity({ reference: expected!, candidate: await runOrt(bytes, inputs[0]!, false), samples: 4 });
  tfjs.dispose();
  tf.dispose(inputs);
  return { bytes, inspected: inspectModel(bytes), parity, defaults };
}

const SMALL = [depthwiseNet, functionalResidual];
/** The tfjs affine formats become a lookup table only for tensors where that is smaller (uint8: > 341 values). */
const LARGE = [exampleCnn];
const SPECS: { label: string; apply: (ir: ModelIR) => ModelIR; dataType: number; models: (() => tf.LayersModel)[] }[] = [
  { label: 'int8 per tensor', apply: (ir) => quantizeModel(ir, { dtype: 'int8', symmetric: false }), dataType: 3, models: SMALL },
  { label: 'int8 per channel', apply: perChannel, dataType: 3, models: SMALL },
  { label: 'int8 per channel, Cast+Mul', apply: (ir) => withOnnxEncoding(perChannel(ir), 'cast-mul'), dataType: 3, models: SMALL },
  { label: 'float16', apply: (ir) => quantizeModel(ir, { dtype: 'float16' }), dataType: 10, models: SMALL },
  { label: 'uint8', apply: (ir) => quantizeModel(ir, { dtype: 'uint8' } satisfies StorageSpec), dataType: 2, models: LARGE },
  { label: 'uint16', apply: (ir) => quantizeModel(ir, { dtype: 'uint16' }), dataType: 4, models: LARGE },
];

describe('stored weights in the ONNX export', () => {
  for (const spec of SPECS) {
    for (const make of spec.models) {
      test(`${make.name}: ${spec.label}`, async () => {
        const model = make();
        const float = await irFromTfjsModel(model);
        const ir = spec.apply(float);
        const { bytes, inspected, parity, defaults } = await exportAndRun(model, ir, spec.label);
        assert.ok(parity.maxAbsDiff <= 1e-6, `max |Δ| ${parity.maxAbsDiff}: the file does not hold the IR's values`);
        const folded = spec.label.includes('Cast+Mul');
        assert.ok(defaults.maxAbsDiff <= (spec.dataType === 3 && !folded ? 2e-3 : 1e-6), `default onnxruntime: max |Δ| ${defaults.maxAbsDiff}`);
        if (folded) assert.ok(!inspected.graph.node.some((n) => n.opType === 'DequantizeLinear'), 'Cast + Mul, which onnxruntime folds');
        assert.ok(inspected.graph.initializer.some((i) => i.dataType === spec.dataType), 'codes are stored in their own type');
        assert.ok(weightBytes(bytes) < weightBytes(exportOnnx(float)), 'smaller than float32');
        model.dispose();
      });
    }
  }

  test('per-channel DequantizeLinear carries the output-channel axis of the reordered kernel', async () => {
    const model = depthwiseNet();
    const ir = perChannel(await irFromTfjsModel(model));
    const { inspected } = await exportAndRun(model, ir, 'axis');
    const axisOf = (name: string) => inspected.graph.node.find((n) => n.opType === 'DequantizeLinear' && n.output[0] === name)?.attribute.find((a) => a.name === 'axis')?.i;
    // Conv kernels [out, in, kh, kw]: axis 0; the depthwise kernel [C·m, 1, kh, kw]: axis 0 (C scales, each repeated m times).
    assert.equal(axisOf('conv_rect/kernel'), 0);
    assert.equal(axisOf('dw/depthwise_kernel'), 0);
    const dwScale = inspected.graph.initializer.find((i) => i.name === 'dw/depthwise_kernel/scale')!;
    assert.deepEqual(dwScale.dims, [6]);
    // Dense kernels [in, out]: axis 1.
    assert.equal(axisOf('dense3d/kernel'), 1);
    model.dispose();
  });

  test('BatchNormalization is not folded into a quantised kernel (that would ship it unquantised)', async () => {
    const model = functionalResidual();
    const ir = quantizeModel(await irFromTfjsModel(model), { dtype: 'int8', symmetric: true });
    const { inspected } = await exportAndRun(model, ir, 'bn');
    assert.ok(inspected.graph.initializer.some((i) => i.name === 'conv_a/kernel/quantized' && i.dataType === 3));
    assert.ok(inspected.graph.node.some((n) => n.name.startsWith('bn_a/')), 'bn_a stays a node');
    model.dispose();
  });

  test('every file passes the official ONNX checker', (t) => {
    const result = runOnnxChecker(t, written);
    if (result) assert.ok(result.ok, result.output);
  });
});
