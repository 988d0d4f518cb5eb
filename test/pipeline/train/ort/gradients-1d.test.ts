/**
 * ORT training step vs tfjs (cpu backend) for the rules of 1-D feature maps and resampling: Conv1D ('same',
 * 'valid', strides, dilation; held channels first), global average/max pooling (1-D and 2-D; max routes dY to every
 * tied maximum, as tfjs's max gradient does) and nearest UpSampling2D. Gradients, loss and the weights after one
 * step agree to 1e-5. UpSampling1D (tfjs has none) is checked against the same network written with UpSampling2D.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { cloneIR } from '../../../../pipeline/ir.ts';
import { canTrainOnOrt } from '../../../../pipeline/train/ort/support.ts';
import { layer } from '../../../fixtures/ir.ts';
import { OrtTrainer } from '../../../../pipeline/train/ort/trainer.ts';
import { assertClose, compareStep, irOf, maxAbsDiff, randomBatch } from './helpers.ts';

before(async () => {
  await initEngine('cpu');
});

const keys = (...layers: string[]) => layers.flatMap((l) => [`${l}/kernel`, `${l}/bias`]);

// (tfjs computes no convolution gradient with dilation > 1 — "not yet supported in gradients" — so dilated 1-D
// convolutions train on ORT only and are not compared here.)
test('Conv1D (same + stride 2, valid, no bias) → GlobalMaxPooling1D / GlobalAveragePooling1D heads', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [12, 3], name: 'in' }));
  m.add(tf.layers.conv1d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }));
  m.add(tf.layers.conv1d({ filters: 5, kernelSize: 2, useBias: false, activation: 'tanh', name: 'c2' }));
  m.add(tf.layers.globalMaxPooling1d({ name: 'gmp' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const ir = await irOf(m);
  assert.deepEqual(canTrainOnOrt(ir), { ok: true });
  assertClose(await compareStep(ir, { batch: 6 }), ['c1/kernel', 'c1/bias', 'c2/kernel', ...keys('head')]);

  const avg = tf.sequential();
  avg.add(tf.layers.inputLayer({ inputShape: [9, 2], name: 'in' }));
  avg.add(tf.layers.conv1d({ filters: 3, kernelSize: 4, activation: 'sigmoid', name: 'c1' }));
  avg.add(tf.layers.globalAveragePooling1d({ name: 'gap' }));
  avg.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' }));
  assertClose(await compareStep(await irOf(avg), { batch: 5 }), [...keys('c1'), ...keys('head')]);
});

test('GlobalMaxPooling2D with ties (integer inputs and kernels) routes the gradient to every maximum, as tfjs does', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [5, 5, 2], name: 'in' }));
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: 'relu', name: 'c1' }));
  m.add(tf.layers.globalMaxPooling2d({ name: 'gmp' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const ir = await irOf(m);
  const c = await compareStep(ir, {
    batch: 4, integerInputs: 2,
    edit: (e) => {
      const k = e.layers.find((l) => l.name === 'c1')!.weights[0]!;
      k.values = k.values.map((_, i) => (i % 3) - 1);
    },
  });
  assertClose(c, [...keys('c1'), ...keys('head')]);
});

// One sample per batch: the reference's (tfjs cpu) ResizeNearestNeighborGrad offsets dY by the *input's* batch
// stride, so from the second sample on it sums the wrong cells (measured: sample 2 of a [2, 2, 3, 1] → [4, 6] resize
// gets 38, 46, … where the block sums are 110, 118, …). tfjs-wasm, which fine-tunes, gets them right.
test('UpSampling2D (nearest, [2, 4]) between convolutions: block sums of dY', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [4, 3, 2], name: 'in' }));
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: 'relu', name: 'c1' }));
  m.add(tf.layers.upSampling2d({ size: [2, 4], name: 'up' }));
  m.add(tf.layers.conv2d({ filters: 2, kernelSize: 3, name: 'c2' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  assertClose(await compareStep(await irOf(m), { batch: 1 }), [...keys('c1'), ...keys('c2'), ...keys('head')]);
  const bilinear = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [4, 3, 2] }), tf.layers.upSampling2d({ interpolation: 'bilinear' }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] });
  const refused = canTrainOnOrt(await irOf(bilinear));
  assert.ok(!refused.ok && /bilinear/.test(refused.reason));
});

test('UpSampling1D trains on ORT like the same network with UpSampling2D [s, 1] between reshapes (Reshape trains on ORT too)', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [5, 2], name: 'in' }));
  m.add(tf.layers.conv1d({ filters: 3, kernelSize: 2, activation: 'tanh', name: 'c1' }));
  m.add(tf.layers.reshape({ targetShape: [4, 1, 3], name: 'to_2d' }));
  m.add(tf.layers.upSampling2d({ size: [2, 1], name: 'up' }));
  m.add(tf.layers.reshape({ targetShape: [8, 3], name: 'to_1d' }));
  m.add(tf.layers.conv1d({ filters: 2, kernelSize: 3, name: 'c2' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const twoD = await irOf(m);
  // The same weights with one UpSampling1D(3) in place of reshape → UpSampling2D → reshape.
  const oneD = cloneIR(twoD);
  oneD.layers = oneD.layers.filter((l) => !['to_2d', 'up', 'to_1d'].includes(l.name));
  oneD.layers.splice(2, 0, layer('up1d', 'UpSampling1D', ['c1'], { size: 2 }));
  oneD.layers.find((l) => l.name === 'c2')!.inputs = ['up1d'];
  const ortGradients = async (ir: typeof twoD) => {
    const trainer = await OrtTrainer.create(ir, { optimizer: { name: 'adam' }, learningRate: 1e-3, alpha: 0, temperature: 2, exposeGradients: true });
    try {
      const batch = randomBatch([5, 2], 3, { batch: 4 });
      return (await trainer.step({ x: batch.x, y: batch.y, size: batch.size, teacherLogits: batch.teacherLogits, masks: new Map() })).gradients!;
    } finally {
      await trainer.release();
    }
  };
  const [a, b] = [await ortGradients(oneD), await ortGradients(twoD)];
  // UpSampling2D's rule matches tfjs (above); the UpSampling1D rule must give the same gradients everywhere.
  assertClose(await compareStep(twoD, { batch: 1 }), [...keys('c1'), ...keys('c2'), ...keys('head')]);
  for (const key of [...keys('c1'), ...keys('c2'), ...keys('head')]) assert.ok(maxAbsDiff(a.get(key)!, b.get(key)!) < 1e-6, key);
});
