/**
 * Full-integer int8 TFLite: the conventions TFLite's full runtime enforces, checked in the written file (per-channel
 * int8 weights, int32 biases at input × weight scale, asymmetric int8 activations, float32 edges through
 * QUANTIZE/DEQUANTIZE, kernel-fixed output parameters), and every model kind run in the real runtime.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { calibrateActivations } from '../../../../pipeline/activation-calibration.ts';
import { initEngine } from '../../../../pipeline/engine.ts';
import { isSlimnetError } from '../../../../pipeline/errors.ts';
import { exportTflite } from '../../../../pipeline/formats/tflite/export.ts';
import { BuiltinOperator, TensorType, type TensorSpec } from '../../../../pipeline/formats/tflite/model-spec.ts';
import { readTflite, type ReadTflite } from '../../../../pipeline/formats/tflite/read.ts';
import { irFromTfjsModel } from '../../../../pipeline/io/tfjs-model.ts';
import { depthwiseNet, exampleCnn, functionalResidual, sequentialCnn } from '../../../fixtures/models.ts';
import { needsValidator } from '../../../helpers/validators.ts';
import { exportAndCompare, inputSet, tempDir } from './helpers.ts';
import { activationStack, mergeStack, mobileNetStyle } from './models.ts';

before(() => initEngine('cpu'));

async function int8File(model: tf.LayersModel): Promise<ReadTflite> {
  const ir = await irFromTfjsModel(model);
  return readTflite(exportTflite(ir, { numerics: 'int8', ranges: (await calibrateActivations(ir, inputSet(model, 100, 11))).ranges }));
}

type Op = ReadTflite['graph']['operators'][number];
const opsOf = (m: ReadTflite, op: BuiltinOperator) => m.graph.operators.filter((o) => o.op === op);
const tensor = (m: ReadTflite, i: number): TensorSpec => m.graph.tensors[i]!;
const q = (t: TensorSpec) => t.quantization!;

test('conv weights are OHWI int8 per output channel (quantized_dimension 0), biases int32 at input × weight scale', async () => {
  const m = await int8File(mobileNetStyle());
  for (const op of opsOf(m, BuiltinOperator.CONV_2D)) {
    const [x, w, b] = op.inputs.map((i) => tensor(m, i));
    assert.equal(op.version, 3);
    assert.deepEqual([x!.type, w!.type, b!.type, tensor(m, op.outputs[0]!).type], [TensorType.INT8, TensorType.INT8, TensorType.INT32, TensorType.INT8]);
    const outChannels = w!.shape[0]!;
    assert.equal(q(w!).quantizedDimension, 0);
    assert.equal(q(w!).scale.length, outChannels);
    assert.ok(q(w!).zeroPoint.every((z) => z === 0));
    assert.equal(q(b!).quantizedDimension, 0);
    assert.deepEqual(q(b!).scale, q(w!).scale.map((s) => Math.fround(q(x!).scale[0]! * s)));
    assert.ok(q(b!).zeroPoint.every((z) => z === 0));
    // Symmetric, narrow range: −128 never used.
    assert.ok(!new Int8Array(w!.data!.buffer, w!.data!.byteOffset, w!.data!.length).includes(-128));
  }
});

test('depthwise weights are [1, H, W, C·m] with per-channel scales on axis 3; fully-connected weights [out, in]', async () => {
  const m = await int8File(depthwiseNet());
  const dw = opsOf(m, BuiltinOperator.DEPTHWISE_CONV_2D);
  assert.ok(dw.length >= 2);
  for (const op of dw) {
    const w = tensor(m, op.inputs[1]!);
    assert.equal(w.shape[0], 1);
    assert.equal(q(w).quantizedDimension, 3);
    assert.equal(q(w).scale.length, w.shape[3]);
    assert.equal(q(tensor(m, op.inputs[2]!)).quantizedDimension, 0);
  }
  for (const op of opsOf(m, BuiltinOperator.FULLY_CONNECTED)) {
    const w = tensor(m, op.inputs[1]!);
    assert.equal(op.version, 4);
    assert.equal(w.type, TensorType.INT8);
    assert.equal(q(w).scale.length, 1);
    assert.equal(w.shape.length, 2);
  }
});

test('float32 edges: QUANTIZE after the input, DEQUANTIZE before the output; every other activation is int8', async () => {
  const m = await int8File(sequentialCnn());
  const first = m.graph.operators[0]!;
  const last = m.graph.operators.at(-1)!;
  assert.equal(first.op, BuiltinOperator.QUANTIZE);
  assert.deepEqual(first.inputs, m.graph.inputs);
  assert.equal(last.op, BuiltinOperator.DEQUANTIZE);
  assert.deepEqual(last.outputs, m.graph.outputs);
  const edges = new Set([...m.graph.inputs, ...m.graph.outputs]);
  for (const [i, t] of m.graph.tensors.entries()) {
    if (edges.has(i)) assert.equal(t.type, TensorType.FLOAT32, t.name);
    else assert.ok(t.type === TensorType.INT8 || t.type === TensorType.INT32, `${t.name} is ${TensorType[t.type]}`);
  }
  const softmax = opsOf(m, BuiltinOperator.SOFTMAX)[0]!;
  assert.deepEqual([q(tensor(m, softmax.outputs[0]!)).scale[0], q(tensor(m, softmax.outputs[0]!)).zeroPoint[0]], [1 / 256, -128]);
});

test('ops the kernels constrain: concatenation inputs share the output parameters; pooling, reshape, pad keep the input ones', async () => {
  for (const model of [mobileNetStyle(), mergeStack(), functionalResidual()]) {
    const m = await int8File(model);
    const params = (i: number) => JSON.stringify([q(tensor(m, i)).scale, q(tensor(m, i)).zeroPoint]);
    const same = (op: Op, ids: number[]) => ids.forEach((i) => assert.equal(params(i), params(op.outputs[0]!), `${BuiltinOperator[op.op]} in ${model.name}`));
    for (const op of opsOf(m, BuiltinOperator.CONCATENATION)) same(op, op.inputs);
    for (const kind of [BuiltinOperator.MAX_POOL_2D, BuiltinOperator.AVERAGE_POOL_2D, BuiltinOperator.RESHAPE, BuiltinOperator.PAD, BuiltinOperator.MAXIMUM, BuiltinOperator.MINIMUM]) {
      for (const op of opsOf(m, kind)) same(op, kind === BuiltinOperator.MAXIMUM || kind === BuiltinOperator.MINIMUM ? op.inputs : [op.inputs[0]!]);
    }
  }
});

const MODELS: Record<string, () => tf.LayersModel> = {
  'a Sequential CNN': sequentialCnn,
  "the example's architecture": exampleCnn,
  'a residual net with BN': functionalResidual,
  'a depthwise net (dilated separable, up-sampling, cropping)': depthwiseNet,
  'a MobileNet-style net': () => mobileNetStyle(),
  'merges of every kind': () => mergeStack(),
  'every mapped activation': () => activationStack(),
};

for (const [what, make] of Object.entries(MODELS)) {
  test(`int8 TFLite of ${what} runs in the TFLite runtime and agrees with tfjs`, async (t) => {
    if (!needsValidator(t, 'tflite-runtime')) return;
    const { report } = await exportAndCompare(make(), tempDir(), { numerics: 'int8', batch: 50 });
    assert.ok(report.top1Agreement >= 0.9, `top-1 agreement ${report.top1Agreement}`);
  });
}

test('an int8 export without a range for a tensor it quantises names that tensor', async () => {
  const ir = await irFromTfjsModel(sequentialCnn());
  const ranges = (await calibrateActivations(ir, inputSet(sequentialCnn(), 20, 1))).ranges;
  const { fc1: _dropped, ...partial } = ranges;
  assert.throws(() => exportTflite(ir, { numerics: 'int8', ranges: partial }),
    (e: unknown) => isSlimnetError(e) && e.where === 'tensor "fc1"' && /no calibrated range/.test(e.message));
});
