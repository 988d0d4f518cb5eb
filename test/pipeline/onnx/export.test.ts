/** The exported model as a whole: names, dynamic batch, producer, opset, initializers, and the errors. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError, SlimnetError } from '../../../pipeline/errors.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { exportOnnx, ONNX_LAYER_CLASSES as SUPPORTED_LAYER_CLASSES } from '../../../pipeline/onnx/export.ts';
import { decodeModel, onnx } from '../../../pipeline/onnx/proto.ts';
import { exampleCnn, randomizeWeights } from '../../fixtures/models.ts';
import { exportAndCompare, inspectModel, meetsParity, runOnnx, runOnnxChecker, sequentialOf, tempDir, useReferenceBackend } from './helpers.ts';
import { cloneIR } from '../../../pipeline/ir.ts';
import { layerFromKeras } from '../../../pipeline/layers/registry.ts';
import { layer } from '../../fixtures/ir.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);

const packageVersion = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('example CNN: names, dynamic batch, producer, opset 13, IR 8, no transposes, parity on 64 samples', async () => {
  const model = exampleCnn();
  const { ir, bytes, reports, path } = await exportAndCompare(model, dir, { batch: 64 });
  written.push(path);
  assert.ok(meetsParity(reports), JSON.stringify(reports));
  const m = inspectModel(bytes);
  assert.equal(m.irVersion, 8);
  assert.deepEqual(m.opsetImport.map((o) => [o.domain, o.version]), [['', 13]]);
  assert.equal(m.producerName, 'slimnet');
  assert.equal(m.producerVersion, packageVersion);
  const graph = m.graph;
  assert.deepEqual(graph.input.map((i) => i.name), ir.inputs);
  assert.deepEqual(graph.output.map((o) => o.name), ['dense_1']);
  assert.deepEqual(graph.input[0].dims, ['batch', 28, 28, 1]);
  assert.deepEqual(graph.output[0].dims, ['batch', 10]);
  // Nothing moves data: the 1-channel NHWC input is reshaped to NCHW, and Flatten reads the NCHW map directly.
  assert.deepEqual(graph.node.filter((n) => n.opType === 'Transpose'), []);
  assert.deepEqual(graph.node.slice(0, 2).map((n) => n.opType), ['Reshape', 'Conv']);
  // So the Dense kernel's rows are in NCHW order (channel-major), float32 little-endian raw data.
  const kernel = graph.initializer.find((t) => t.name === 'dense/kernel')!;
  assert.deepEqual(kernel.dims, [5408, 128]);
  const raw = kernel.rawData;
  const values = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const keras = ir.layers.find((l) => l.name === 'dense')!.weights[0].values;
  // Keras row (h·13 + w)·32 + c is ONNX row c·169 + h·13 + w.
  for (const [h, w, c] of [[0, 0, 0], [0, 1, 0], [0, 0, 1], [12, 5, 31]]) {
    const from = ((h * 13 + w) * 32 + c) * 128;
    const to = (c * 169 + h * 13 + w) * 128;
    assert.deepEqual(values.subarray(to, to + 128), keras.subarray(from, from + 128), `row h=${h} w=${w} c=${c}`);
  }
});

test('one exported model serves any batch size', async () => {
  const model = sequentialOf('any_batch', [6, 5, 2], [tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same' }), tf.layers.flatten(), tf.layers.dense({ units: 3 })]);
  const bytes = exportOnnx(await irFromTfjsModel(model));
  for (const batch of [1, 5]) {
    const x = tf.randomUniform([batch, 6, 5, 2], -1, 1, 'float32', batch);
    const expected = (model.predict(x) as tf.Tensor).dataSync();
    const [actual] = await runOnnx(bytes, [x]);
    assert.equal(actual.length, batch * 3);
    for (let i = 0; i < actual.length; i++) assert.ok(Math.abs(actual[i] - expected[i]) <= 1e-5, `batch ${batch}, value ${i}`);
  }
});

test('opset 17 exports, runs and passes the checker; opsets outside 13..17 are refused', async () => {
  const model = sequentialOf('opset17', [5, 5, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), tf.layers.zeroPadding2d({ padding: 1 }),
    tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 2, activation: 'softmax' }),
  ]);
  const { bytes, reports, path } = await exportAndCompare(model, dir, { opset: 17 });
  written.push(path);
  assert.ok(meetsParity(reports), JSON.stringify(reports));
  assert.equal(inspectModel(bytes).opsetImport[0].version, 17);
  const ir = await irFromTfjsModel(model);
  for (const opset of [12, 18, 13.5]) {
    assert.throws(() => exportOnnx(ir, { opset }), (e: unknown) => isSlimnetError(e) && e.code === 'CONFIG_INVALID' && e.where === 'opset');
  }
});

test('a model input with free height/width is refused with a one-line error, not exported with guessed pads', async () => {
  const input = tf.input({ shape: [null, null, 2] as unknown as number[], name: 'image' });
  const y = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const model = randomizeWeights(tf.model({ inputs: input, outputs: y, name: 'free_size' }), 3);
  const ir = await irFromTfjsModel(model);
  assert.throws(() => exportOnnx(ir), (e: unknown) => isSlimnetError(e) && e.where === 'layer "image" (InputLayer)' && !/\n/.test(e.oneLine()));
});

test('several outputs, one of them 4-D and also feeding another layer: NHWC outputs named after their layers', async () => {
  const input = tf.input({ shape: [4, 4, 2], name: 'x' });
  const feat = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'features' }).apply(input) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(feat) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 2, name: 'logits' }).apply(flat) as tf.SymbolicTensor;
  const model = randomizeWeights(tf.model({ inputs: input, outputs: [logits, feat], name: 'two_outputs' }), 9);
  const { bytes, reports, path } = await exportAndCompare(model, dir);
  written.push(path);
  assert.equal(reports.length, 2);
  assert.ok(meetsParity(reports), JSON.stringify(reports));
  assert.deepEqual(inspectModel(bytes).graph.output.map((o) => o.name), ['logits', 'features']);
});

test('a hand-built IR (no tfjs involved): Dense computes x·W + b', async () => {
  const ir: ModelIR = {
    name: 'hand_built',
    inputs: ['in'],
    outputs: ['fc'],
    layers: [
      layer('in', 'InputLayer', [], { batch_input_shape: [null, 2], dtype: 'float32' }),
      layer('fc', 'Dense', ['in'], { units: 3, activation: 'linear', use_bias: true }, [
        { name: 'kernel', shape: [2, 3], values: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        { name: 'bias', shape: [3], values: Float32Array.from([0.5, -1, 2]) },
      ]),
    ],
  };
  const [out] = await runOnnx(exportOnnx(ir), [tf.tensor([[1, 10], [-2, 0.5]])]);
  assert.deepEqual(Array.from(out), [41.5, 51, 65, 0.5, -2.5, -1]);
});

function expectUnsupported(run: () => unknown, where: string, fragment: RegExp): void {
  assert.throws(run, (e: unknown) => {
    assert.ok(e instanceof SlimnetError, String(e));
    assert.equal(e.code, 'LAYER_UNSUPPORTED');
    assert.equal(e.where, where);
    assert.match(e.message, fragment);
    assert.doesNotMatch(e.oneLine(), /\n/);
    return true;
  });
}

test('a class slimnet lacks (TimeDistributed) and one the export lacks (LayerNormalization) fail with one line naming the layer, its class and the supported list', async () => {
  const td = sequentialOf('with_td', [5, 3], [tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4 }), name: 'td_1' }), tf.layers.flatten(), tf.layers.dense({ units: 2 })]);
  const irTd = await irFromTfjsModel(td);
  expectUnsupported(() => exportOnnx(irTd), 'layer "td_1" (TimeDistributed)', /does not support TimeDistributed layers/);
  try {
    exportOnnx(irTd);
  } catch (e) {
    const line = (e as SlimnetError).oneLine();
    for (const cls of ['Conv2D', 'DepthwiseConv2D', 'BatchNormalization', 'Concatenate', 'ZeroPadding2D']) assert.ok(line.includes(cls), line);
    assert.deepEqual(SUPPORTED_LAYER_CLASSES, [...SUPPORTED_LAYER_CLASSES].sort());
  }
  const norm = sequentialOf('with_layer_norm', [4, 2], [tf.layers.layerNormalization({ name: 'ln' })]);
  const irNorm = await irFromTfjsModel(norm);
  expectUnsupported(() => exportOnnx(irNorm), 'layer "ln" (LayerNormalization)', /ONNX export does not support LayerNormalization layers/);
});

test('a custom class and dilated depthwise are refused; an unknown activation or channels_first never make a layer', async () => {
  const base = await irFromTfjsModel(sequentialOf('base', [6, 6, 2], [tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'conv' })]));
  const conv = base.layers.find((l) => l.name === 'conv')!;
  const custom = cloneIR(base);
  custom.layers[1] = layerFromKeras({ ...conv, className: 'MyCustomLayer' });
  expectUnsupported(() => exportOnnx(custom), 'layer "conv" (MyCustomLayer)', /MyCustomLayer/);
  // A typed config is parsed when the layer is made: these cannot reach the exporter at all.
  assert.throws(
    () => layerFromKeras({ ...conv, keras: { ...conv.keras, activation: 'exotic' } }),
    (e: unknown) => isSlimnetError(e) && e.code === 'MODEL_INVALID' && e.where === 'layer "conv" (Conv2D)' && /config\.activation.*"exotic"/.test(e.message),
  );
  assert.throws(
    () => layerFromKeras({ ...conv, keras: { ...conv.keras, data_format: 'channels_first' } }),
    (e: unknown) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && e.where === 'layer "conv" (Conv2D)' && /channels_first/.test(e.message),
  );
  const dw = await irFromTfjsModel(sequentialOf('dw_dilated', [8, 8, 2], [tf.layers.depthwiseConv2d({ kernelSize: 3, dilationRate: 2, name: 'dw' })]));
  expectUnsupported(() => exportOnnx(dw), 'layer "dw" (DepthwiseConv2D)', /dilation_rate/);
});

test('every exported model here passes onnx.checker (full_check)', (t) => {
  assert.equal(written.length, 3);
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});

test('the checker script reports a broken file', (t) => {
  // An Identity whose input nothing produces: structurally invalid, the checker must say so.
  const m = decodeModel(readFileSync(written[0]));
  const graph = m.graph as { node: unknown[] };
  graph.node.push(onnx.NodeProto.create({ opType: 'Identity', name: 'dangling', input: ['nowhere'], output: ['dangling_out'] }));
  const bad = join(dir, 'broken.onnx');
  writeFileSync(bad, onnx.ModelProto.encode(m).finish());
  const result = runOnnxChecker(t, [bad]);
  if (!result) return;
  assert.equal(result.ok, false);
  assert.match(result.output, /FAIL .*broken\.onnx/);
});
