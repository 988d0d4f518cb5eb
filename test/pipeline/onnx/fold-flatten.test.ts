/**
 * Layout changes the runtime need not do: a Flatten read only by Dense layers flattens the NCHW tensor (the Dense
 * kernel rows reordered in the file, through every weight storage), and a transpose that moves only size-1 axes is
 * a Reshape. Each exported model must still compute the IR exactly.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as ort from 'onnxruntime-node';
import * as tf from '@tensorflow/tfjs';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { flattenOrder } from '../../../pipeline/onnx/fold-flatten.ts';
import { withOnnxEncoding } from '../../../pipeline/quantize/onnx-encoding.ts';
import { permute } from '../../../pipeline/typed-arrays.ts';
import { quantizeModel, quantizeWeight } from '../../../pipeline/weight-storage.ts';
import { predictFlat, randomInputs, randomizeWeights } from '../../fixtures/models.ts';
import { inspectModel, sequentialOf, useReferenceBackend } from './helpers.ts';

before(useReferenceBackend);

/** Every output on onnxruntime with its QDQ fusions off, so the file's own numbers are what runs. */
async function runExact(bytes: Uint8Array, x: tf.Tensor): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes, { extra: { session: { disable_quant_qdq: '1' } } } as ort.InferenceSession.SessionOptions);
  try {
    const out = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x.dataSync() as Float32Array, x.shape) });
    return session.outputNames.map((n) => out[n]!.data as Float32Array);
  } finally {
    await session.release();
  }
}

async function maxDiff(model: tf.LayersModel, ir: ModelIR, bytes: Uint8Array): Promise<number> {
  const [x] = randomInputs(model, 3);
  const tfjs = await buildTfjsModel(ir);
  const expected = await predictFlat(tfjs, [x!]);
  const actual = await runExact(bytes, x!);
  tfjs.dispose();
  x!.dispose();
  let worst = 0;
  expected.forEach((e, o) => e.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - actual[o]![i]!)))));
  return worst;
}

const ops = (bytes: Uint8Array) => inspectModel(bytes).graph.node.map((n) => n.opType);

const perChannelInt8 = (ir: ModelIR): ModelIR => ({
  ...ir,
  layers: ir.layers.map((l) => ({ ...l, weights: l.weights.map((w) => (/kernel$/.test(w.name) ? quantizeWeight(w, { dtype: 'int8', symmetric: true, axis: w.shape.length - 1 }) : w)) })),
});

test('flattenOrder: row j of the NCHW-flattened features is the NHWC-flattened row order[j]', () => {
  const [c, h, w] = [3, 2, 4];
  const nhwc = Float32Array.from({ length: h * w * c }, (_, i) => i); // each element its own NHWC flat index
  const nchw = permute(nhwc, [h, w, c], [2, 0, 1]);
  assert.deepEqual(Array.from(flattenOrder([1, c, h, w], [0, 2, 3, 1])), Array.from(nchw));
  const [ch, len] = [3, 5]; // 1-D: [N, C, L] → [N, L, C]
  const nlc = Float32Array.from({ length: len * ch }, (_, i) => i);
  assert.deepEqual(Array.from(flattenOrder([1, ch, len], [0, 2, 1])), Array.from(permute(nlc, [len, ch], [1, 0])));
});

test('Conv → Flatten → Dense: no data movement left, the same function in every weight storage', async () => {
  const model = sequentialOf('fold_flatten', [5, 4, 1], [
    tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv' }), tf.layers.flatten({ name: 'flat' }),
    tf.layers.dense({ units: 6, activation: 'relu', name: 'd1' }), tf.layers.dense({ units: 3, name: 'd2' }),
  ]);
  const float = await irFromTfjsModel(model);
  const storages: [string, (ir: ModelIR) => ModelIR][] = [
    ['float32', (ir) => ir],
    ['int8 per tensor (DequantizeLinear)', (ir) => quantizeModel(ir, { dtype: 'int8', symmetric: false })],
    ['int8 per channel (DequantizeLinear)', perChannelInt8],
    ['int8 per channel (Cast + Mul)', (ir) => withOnnxEncoding(perChannelInt8(ir), 'cast-mul')],
    ['float16', (ir) => quantizeModel(ir, { dtype: 'float16' })],
    ['uint8 lookup table', (ir) => quantizeModel(ir, { dtype: 'uint8' })],
  ];
  for (const [label, apply] of storages) {
    const ir = apply(float);
    const bytes = exportOnnx(ir);
    // The 1-channel input needs no transpose either: a Reshape keeps its element order.
    assert.ok(!ops(bytes).includes('Transpose'), `${label}: ${ops(bytes).join(' ')}`);
    assert.equal(ops(bytes)[0], 'Reshape', label);
    const diff = await maxDiff(model, ir, bytes);
    assert.ok(diff <= 1e-5, `${label}: max |Δ| ${diff}`);
  }
  model.dispose();
});

test('the Transpose stays where the Flatten is read by something else; a 1×1 map is flattened through a Reshape', async () => {
  const input = tf.input({ shape: [4, 4, 2], name: 'x' });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(conv) as tf.SymbolicTensor;
  const dense = tf.layers.dense({ units: 2, name: 'dense' }).apply(flat) as tf.SymbolicTensor;
  const squeeze = tf.layers.conv2d({ filters: 5, kernelSize: 2, name: 'to_1x1' }).apply(conv) as tf.SymbolicTensor;
  const vector = tf.layers.flatten({ name: 'vector' }).apply(squeeze) as tf.SymbolicTensor;
  const functional = randomizeWeights(tf.model({ inputs: input, outputs: [dense, flat, vector], name: 'flatten_shared' }), 5);
  const ir = await irFromTfjsModel(functional);
  const bytes = exportOnnx(ir);
  const graph = inspectModel(bytes).graph;
  // flat is a model output, so its Keras order must be computed; the 1×1 map's channels-last order is a Reshape.
  assert.equal(graph.node.filter((n) => n.opType === 'Transpose').length, 2, ops(bytes).join(' ')); // input → NCHW, conv → NHWC
  assert.ok(graph.node.some((n) => n.opType === 'Reshape' && n.name.startsWith('to_1x1/')), ops(bytes).join(' '));
  const diff = await maxDiff(functional, ir, bytes);
  assert.ok(diff <= 1e-5, `max |Δ| ${diff}`);
  functional.dispose();
});
