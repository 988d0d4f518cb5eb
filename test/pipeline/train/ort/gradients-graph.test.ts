/**
 * ORT training step vs tfjs (cpu backend) for BatchNormalization (training mode and its running statistics),
 * Dropout (seeded masks), merges (Add, Concatenate: gradients summed where branches meet), frozen layers, the
 * distillation loss and the momentum optimizer. Gradients, loss and the weights after one step agree to 1e-5.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { assertClose, compareStep, irOf } from './helpers.ts';

before(async () => {
  await initEngine('cpu');
});

const keys = (...layers: string[]) => layers.flatMap((l) => [`${l}/kernel`, `${l}/bias`]);
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

test('BatchNormalization in training mode: batch statistics, gamma/beta gradients, running statistics updated with momentum', async () => {
  // No biases before the BNs (their true gradient is exactly 0: BN subtracts the batch mean; see NOISE_GRADIENT).
  const input = tf.input({ shape: [6, 6, 2], name: 'in' });
  let x = apply(tf.layers.batchNormalization({ name: 'bn0' }), input); // on the NHWC input, channels last
  x = apply(tf.layers.activation({ activation: 'tanh', name: 't0' }), x); // else bn1 would cancel bn0/beta's effect
  x = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, useBias: false, name: 'c1' }), x);
  x = apply(tf.layers.batchNormalization({ momentum: 0.9, name: 'bn1' }), x);
  x = apply(tf.layers.activation({ activation: 'relu', name: 'r1' }), x);
  x = apply(tf.layers.batchNormalization({ center: false, epsilon: 0.01, name: 'bn2' }), x);
  x = apply(tf.layers.flatten({ name: 'flat' }), x);
  x = apply(tf.layers.dense({ units: 5, useBias: false, name: 'd1' }), x);
  x = apply(tf.layers.batchNormalization({ scale: false, name: 'bn3' }), x);
  x = apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }), x);
  const ir = await irOf(tf.model({ inputs: input, outputs: x }));
  const c = await compareStep(ir, { batch: 8 });
  assertClose(c, ['c1/kernel', 'd1/kernel', ...keys('head'), 'bn0/gamma', 'bn0/beta', 'bn1/gamma', 'bn1/beta', 'bn2/gamma', 'bn3/beta']);
  assert.ok(c.noiseEntries < 40, `${c.noiseEntries} weight entries had noise-level gradients`);
  for (const stat of ['bn0/moving_mean', 'bn1/moving_mean', 'bn1/moving_variance', 'bn2/moving_variance', 'bn3/moving_mean']) {
    assert.ok(c.perWeight.has(stat), `${stat} is compared`);
  }
});

test("BatchNormalization with frozen statistics (batchNorm: 'moving', for small batches): inference-mode normalisation, gamma/beta trained, running statistics unchanged", async () => {
  const input = tf.input({ shape: [6, 6, 2], name: 'in' });
  let x = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, name: 'c1' }), input);
  x = apply(tf.layers.batchNormalization({ momentum: 0.9, name: 'bn1' }), x);
  x = apply(tf.layers.activation({ activation: 'relu', name: 'r1' }), x);
  x = apply(tf.layers.flatten({ name: 'flat' }), x);
  x = apply(tf.layers.dense({ units: 5, name: 'd1' }), x);
  x = apply(tf.layers.batchNormalization({ name: 'bn2' }), x);
  x = apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }), x);
  const ir = await irOf(tf.model({ inputs: input, outputs: x }));
  // Running statistics away from 0/1, so that normalising with them differs from normalising with the batch's.
  for (const l of ir.layers.filter((l) => l.className === 'BatchNormalization')) {
    for (const w of l.weights) {
      if (w.name === 'moving_mean') w.values = w.values.map((_, i) => 0.3 * (i % 3) - 0.2);
      if (w.name === 'moving_variance') w.values = w.values.map((_, i) => 0.5 + 0.4 * (i % 2));
    }
  }
  const c = await compareStep(ir, { batch: 3, batchNorm: 'moving' });
  assertClose(c, [...keys('c1', 'd1', 'head'), 'bn1/gamma', 'bn1/beta', 'bn2/gamma', 'bn2/beta']);
});

test('Dropout: the same seeded mask on both engines, after Dense and after a convolution (NCHW inside the graph)', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [6, 6, 2], name: 'in' }));
  m.add(tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'c1' }));
  m.add(tf.layers.dropout({ rate: 0.3, name: 'drop_conv' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 8, activation: 'relu', name: 'd1' }));
  m.add(tf.layers.dropout({ rate: 0.5, name: 'drop_dense' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const c = await compareStep(await irOf(m), { batch: 4 });
  assertClose(c, keys('c1', 'd1', 'head'));
});

test('Add and Concatenate: a trunk feeding three branches gets their gradients summed', async () => {
  const input = tf.input({ shape: [6, 6, 2], name: 'in' });
  const trunk = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'trunk' }), input);
  const a = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'branch_a' }), trunk);
  const sum = apply(tf.layers.add({ name: 'residual' }), [a, trunk]);
  const side = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', name: 'side' }), trunk);
  const cat = apply(tf.layers.concatenate({ axis: -1, name: 'cat' }), [sum, side]);
  const pooled = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), cat);
  const flatSide = apply(tf.layers.flatten({ name: 'flat_side' }), apply(tf.layers.maxPooling2d({ poolSize: 3, name: 'pool_side' }), side));
  const joined = apply(tf.layers.concatenate({ name: 'joined' }), [pooled, flatSide]);
  const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }), joined);
  const ir = await irOf(tf.model({ inputs: input, outputs: out }));
  assertClose(await compareStep(ir, { batch: 3 }), [...keys('trunk', 'branch_a', 'head'), 'side/depthwise_kernel', 'side/bias']);
});

test('Concatenate along the spatial axis (Keras axis 1) of NCHW tensors', async () => {
  const input = tf.input({ shape: [5, 4, 2], name: 'in' });
  const a = apply(tf.layers.conv2d({ filters: 2, kernelSize: 2, padding: 'same', name: 'a' }), input);
  const b = apply(tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', activation: 'sigmoid', name: 'b' }), input);
  const cat = apply(tf.layers.concatenate({ axis: 1, name: 'cat_h' }), [a, b]);
  const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }), apply(tf.layers.flatten({ name: 'flat' }), cat));
  const ir = await irOf(tf.model({ inputs: input, outputs: out }));
  assertClose(await compareStep(ir), keys('a', 'b', 'head'));
});

test('distillation: alpha 0.5 at temperature 3, and alpha 1 (teacher only)', async () => {
  const build = () => {
    const m = tf.sequential();
    m.add(tf.layers.inputLayer({ inputShape: [5, 5, 1], name: 'in' }));
    m.add(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }));
    m.add(tf.layers.flatten({ name: 'flat' }));
    m.add(tf.layers.dense({ units: 4, activation: 'softmax', name: 'head' }));
    return m;
  };
  assertClose(await compareStep(await irOf(build()), { alpha: 0.5, temperature: 3, batch: 4 }), keys('c1', 'head'));
  assertClose(await compareStep(await irOf(build()), { alpha: 1, temperature: 2, batch: 4 }), keys('c1', 'head'));
});

test('SGD with momentum, and a frozen layer (trainable: false) that passes gradients on but is not updated', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [6, 6, 1], name: 'in' }));
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }));
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, name: 'frozen', trainable: false }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const c = await compareStep(await irOf(m), { optimizer: 'sgd-momentum', learningRate: 0.05 });
  assertClose(c, keys('c1', 'head'));
  assert.equal(c.perWeight.get('frozen/kernel'), 0);
});

test('ZeroPadding2D and Cropping2D: asymmetric borders on NCHW tensors (after a conv) and on the NHWC input, as MobileNetV2 pads before a stride-2 depthwise conv', async () => {
  const input = tf.input({ shape: [6, 5, 2], name: 'in' });
  const padIn = apply(tf.layers.zeroPadding2d({ padding: [[1, 0], [0, 2]], name: 'pad_in' }), input);
  const c1 = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }), padIn);
  const pad = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: 'pad' }), c1);
  const dw = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, name: 'dw' }), pad);
  const crop = apply(tf.layers.cropping2D({ cropping: [[0, 1], [1, 0]], name: 'crop' }), apply(tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'c2' }), c1));
  const joined = apply(tf.layers.concatenate({ name: 'joined' }), [apply(tf.layers.flatten({ name: 'f1' }), dw), apply(tf.layers.flatten({ name: 'f2' }), crop)]);
  const out = apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }), joined);
  const ir = await irOf(tf.model({ inputs: input, outputs: out }));
  assertClose(await compareStep(ir, { batch: 3 }), [...keys('c1', 'c2', 'head'), 'dw/depthwise_kernel', 'dw/bias']);
});
