/** Functional graphs (residual Add, Concatenate, multi-input merges) and BatchNormalization, folded or emitted. */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { functionalResidual, mergeNet, randomizeWeights } from '../../fixtures/models.ts';
import { exportAndCompare, inspectModel, meetsParity, type InspectedModel, runOnnxChecker, sequentialOf, tempDir, useReferenceBackend } from './helpers.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);
after(useReferenceBackend);

async function exported(model: tf.LayersModel) {
  const result = await exportAndCompare(model, dir, { batch: 4 });
  written.push(result.path);
  assert.ok(meetsParity(result.reports), JSON.stringify(result.reports));
  return { ...result, graph: inspectModel(result.bytes).graph };
}

/** The compute ops a layer left in the graph (layout transposes and output aliases aside). */
const opsOf = (graph: InspectedModel['graph'], layer: string) =>
  graph.node
    .filter((n) => n.name.startsWith(`${layer}/`) && n.opType !== 'Transpose' && n.opType !== 'Identity')
    .map((n) => n.opType);

test('functional model with residual Add, BatchNormalization and Concatenate matches tfjs', async () => {
  const { graph } = await exported(functionalResidual());
  // conv_a -> bn_a: folded into the conv (no Mul/Add left for bn_a); bn_b follows a Concatenate: emitted.
  assert.deepEqual(opsOf(graph, 'bn_a'), []);
  assert.deepEqual(opsOf(graph, 'bn_b'), ['Mul', 'Add']);
  // The only layout changes: NHWC input -> NCHW once (shared by three convs). GAP reduces NCHW directly.
  assert.equal(graph.node.filter((n) => n.opType === 'Transpose').length, 1);
});

test('the same functional model also matches tfjs on the wasm backend (the pipeline default)', async () => {
  await initEngine('wasm');
  assert.equal(tf.getBackend(), 'wasm');
  const { reports } = await exportAndCompare(functionalResidual(), dir, { batch: 4 });
  assert.ok(meetsParity(reports), JSON.stringify(reports));
  await useReferenceBackend();
});

test('two-input merge model: Multiply, Minimum, Average, Maximum, Concatenate on axis 1, same MaxPool', async () => {
  const { graph } = await exported(mergeNet());
  assert.deepEqual(graph.input.map((i) => i.name), ['a', 'b']);
});

test('Add of three, Multiply, and Concatenate across mixed layouts (conv output with raw input)', async () => {
  const input = tf.input({ shape: [5, 4, 2], name: 'x' });
  const c1 = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'c1' }).apply(input) as tf.SymbolicTensor;
  const c2 = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'c2' }).apply(input) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum3' }).apply([c1, c2, input]) as tf.SymbolicTensor;
  const diff = tf.layers.multiply({ name: 'prod' }).apply([sum, input]) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat', axis: -1 }).apply([diff, input, c1]) as tf.SymbolicTensor;
  const cat2 = tf.layers.concatenate({ name: 'cat_w', axis: 2 }).apply([cat, cat]) as tf.SymbolicTensor;
  await exported(randomizeWeights(tf.model({ inputs: input, outputs: cat2, name: 'mixed_merge' }), 11));
});

test('BatchNormalization folds into Conv2D, DepthwiseConv2D, SeparableConv2D and Dense', async () => {
  const { graph } = await exported(sequentialOf('bn_folds', [6, 6, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'c' }),
    tf.layers.batchNormalization({ name: 'bn_c' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, useBias: false, name: 'dw' }),
    tf.layers.batchNormalization({ name: 'bn_dw', epsilon: 0.01 }),
    tf.layers.separableConv2d({ filters: 4, kernelSize: 2, name: 'sep' }),
    tf.layers.batchNormalization({ name: 'bn_sep', scale: false }),
    tf.layers.flatten({ name: 'flat' }),
    tf.layers.dense({ units: 5, name: 'd' }),
    tf.layers.batchNormalization({ name: 'bn_d', center: false }),
  ]));
  for (const bn of ['bn_c', 'bn_dw', 'bn_sep', 'bn_d']) assert.deepEqual(opsOf(graph, bn), [], bn);
  // bn_d is the model output: still named after it.
  assert.deepEqual(graph.output.map((o) => o.name), ['bn_d']);
});

test('BatchNormalization is emitted when folding would change the function', async () => {
  const input = tf.input({ shape: [5, 5, 3], name: 'x' });
  const bnIn = tf.layers.batchNormalization({ name: 'bn_input' }).apply(input) as tf.SymbolicTensor;
  const act = tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'conv_relu' }).apply(bnIn) as tf.SymbolicTensor;
  const bnAct = tf.layers.batchNormalization({ name: 'bn_after_relu' }).apply(act) as tf.SymbolicTensor;
  const shared = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'conv_shared' }).apply(bnAct) as tf.SymbolicTensor;
  const bnShared = tf.layers.batchNormalization({ name: 'bn_shared' }).apply(shared) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([bnShared, shared]) as tf.SymbolicTensor;
  const pooled = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(sum) as tf.SymbolicTensor;
  const bn2d = tf.layers.batchNormalization({ name: 'bn_2d' }).apply(pooled) as tf.SymbolicTensor;
  const { graph } = await exported(randomizeWeights(tf.model({ inputs: input, outputs: bn2d, name: 'bn_emitted' }), 5));
  for (const bn of ['bn_input', 'bn_after_relu', 'bn_shared', 'bn_2d']) assert.deepEqual(opsOf(graph, bn), ['Mul', 'Add'], bn);
});

test('every exported merge/BN model passes onnx.checker (full_check)', (t) => {
  assert.equal(written.length, 5);
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});
