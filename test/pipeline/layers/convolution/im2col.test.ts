import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { conv1dGeometry, conv2dGeometry, im2col } from '../../../../pipeline/layers/convolution/im2col.ts';
import { layer } from '../../../fixtures/ir.ts';
import { createRng } from '../../../../pipeline/random.ts';

before(async () => {
  await initEngine('wasm');
});

const cases: Record<string, Record<string, unknown>> = {
  '3x3 valid': { kernel_size: [3, 3], padding: 'valid' },
  '3x3 same, stride 2': { kernel_size: [3, 3], strides: [2, 2], padding: 'same' },
  '2x3 same, strides [2, 1]': { kernel_size: [2, 3], strides: [2, 1], padding: 'same' },
  '4x4 same, stride 3 (uneven padding)': { kernel_size: 4, strides: 3, padding: 'same' },
  '3x3 valid, dilation 2': { kernel_size: 3, dilation_rate: 2, padding: 'valid' },
  '3x2 same, dilation [2, 1]': { kernel_size: [3, 2], dilation_rate: [2, 1], padding: 'same' },
};

for (const [label, config] of Object.entries(cases)) {
  test(`im2col rows × kernel reproduce tf.conv2d: ${label}`, async () => {
    const [n, h, w, c, f] = [2, 9, 8, 3, 4];
    const conv = layer('c', 'Conv2D', ['in'], { filters: f, ...config }).config as unknown as Parameters<typeof conv2dGeometry>[0];
    const g = conv2dGeometry(conv, [h, w]);
    const padding = conv.padding;
    const rng = createRng(5);
    const x = Float32Array.from({ length: n * h * w * c }, () => rng.normal());
    const k = Float32Array.from({ length: g.kernel[0] * g.kernel[1] * c * f }, () => rng.normal());
    const [oh, ow] = g.out;
    const positions = Array.from({ length: n * oh * ow }, (_, i) => i);
    const rows = im2col(x, [h, w, c], g, positions);
    const mine = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [positions.length, rows.length / positions.length]), tf.tensor2d(k, [k.length / f, f])).dataSync());
    const theirs = tf.tidy(() =>
      tf.conv2d(tf.tensor4d(x, [n, h, w, c]), tf.tensor4d(k, [g.kernel[0], g.kernel[1], c, f]), g.strides, padding, 'NHWC', g.dilation).dataSync(),
    );
    assert.equal(mine.length, theirs.length);
    for (let i = 0; i < mine.length; i++) assert.ok(Math.abs(mine[i]! - theirs[i]!) < 1e-4, `${i}: ${mine[i]} vs ${theirs[i]}`);
  });
}

test('im2col takes any subset of positions, in the given order', () => {
  const g = conv2dGeometry({ kernelSize: [1, 1], strides: [1, 1], dilationRate: [1, 1], padding: 'valid' }, [2, 2]);
  const x = Float32Array.from({ length: 2 * 2 * 2 * 1 }, (_, i) => i);
  assert.deepEqual([...im2col(x, [2, 2, 1], g, [7, 0, 5])], [7, 0, 5]);
});

for (const [label, config] of Object.entries({
  'k3 valid': { kernel_size: 3, padding: 'valid' },
  'k4 same, stride 3': { kernel_size: 4, strides: 3, padding: 'same' },
  'k3 causal, dilation 2': { kernel_size: 3, dilation_rate: 2, padding: 'causal' },
})) {
  test(`1-D im2col rows × kernel reproduce tf.conv1d: ${label}`, () => {
    const [n, steps, c, f] = [2, 11, 3, 4];
    const conv = layer('c', 'Conv1D', ['in'], { filters: f, ...config }).config as unknown as Parameters<typeof conv1dGeometry>[0];
    const g = conv1dGeometry(conv, [steps]);
    const rng = createRng(6);
    const x = Float32Array.from({ length: n * steps * c }, () => rng.normal());
    const k = Float32Array.from({ length: conv.kernelSize[0] * c * f }, () => rng.normal());
    const positions = Array.from({ length: n * g.out[1] }, (_, i) => i);
    const rows = im2col(x, [1, steps, c], g, positions);
    const mine = tf.tidy(() => tf.matMul(tf.tensor2d(rows, [positions.length, rows.length / positions.length]), tf.tensor2d(k, [k.length / f, f])).dataSync());
    const theirs = tf.tidy(() => {
      let input = tf.tensor3d(x, [n, steps, c]);
      const d = conv.dilationRate[0];
      if (conv.padding === 'causal') input = tf.pad(input, [[0, 0], [(conv.kernelSize[0] - 1) * d, 0], [0, 0]]);
      return tf.conv1d(input, tf.tensor3d(k, [conv.kernelSize[0], c, f]), conv.strides[0], conv.padding === 'causal' ? 'valid' : conv.padding, 'NWC', d).dataSync();
    });
    assert.equal(mine.length, theirs.length);
    for (let i = 0; i < mine.length; i++) assert.ok(Math.abs(mine[i]! - theirs[i]!) < 1e-4, `${i}: ${mine[i]} vs ${theirs[i]}`);
  });
}
