import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGradient } from '../../../pipeline/kernels/conv-backprop.ts';
import { conv2dInputGradient } from '../../../pipeline/kernels/conv-backprop-input.ts';
import { assertWasmMatchesCpu, maxRelativeDiff, runOn, seeded } from './compare-backends.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
interface ConvCase { stride: number; pad: Pad; k: number; h: number; w: number; inC: number; outC: number }

const CASES: ConvCase[] = [
  { stride: 1, pad: 'valid', k: 3, h: 7, w: 8, inC: 3, outC: 4 },
  { stride: 2, pad: 'same', k: 3, h: 7, w: 7, inC: 2, outC: 3 },
  { stride: 2, pad: 'valid', k: 3, h: 8, w: 9, inC: 3, outC: 2 },
  { stride: 1, pad: 'same', k: 5, h: 9, w: 7, inC: 2, outC: 2 },
  { stride: 3, pad: 'same', k: 2, h: 10, w: 11, inC: 3, outC: 2 },
  { stride: 2, pad: [[0, 0], [1, 2], [2, 0], [0, 0]], k: 3, h: 9, w: 9, inC: 2, outC: 3 },
  { stride: 1, pad: 'valid', k: 1, h: 5, w: 5, inC: 4, outC: 3 },
  { stride: 2, pad: 'same', k: 1, h: 7, w: 7, inC: 3, outC: 2 },
  { stride: 2, pad: 'same', k: 3, h: 9, w: 8, inC: 5, outC: 3 },
  { stride: 1, pad: 'valid', k: 3, h: 6, w: 7, inC: 1, outC: 4 },
];

const label = (c: ConvCase) => `k${c.k} s${c.stride} ${JSON.stringify(c.pad)} ${c.h}x${c.w}x${c.inC}->${c.outC}`;

/** A loss with a random (not all-ones) output gradient, so every position of dy matters. */
function weightedSum(y: tf.Tensor, seed: number): tf.Scalar {
  return tf.sum(tf.mul(y, seeded(y.shape, seed)));
}

test('Conv2D gradients (input and filter) on wasm match cpu', async () => {
  for (const c of CASES) {
    await assertWasmMatchesCpu(`conv2d ${label(c)}`, () => {
      const x = seeded([2, c.h, c.w, c.inC], 1);
      const filter = seeded([c.k, c.k, c.inC, c.outC], 2);
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        weightedSum(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), 3);
      return tf.grads(loss)([x, filter]);
    });
  }
});

test('fused conv2d gradients (bias, linear and relu) on wasm match cpu', async () => {
  for (const c of CASES.slice(0, 4)) {
    for (const activation of ['linear', 'relu'] as const) {
      await assertWasmMatchesCpu(`fused ${activation} ${label(c)}`, () => {
        const x = seeded([2, c.h, c.w, c.inC], 1);
        const filter = seeded([c.k, c.k, c.inC, c.outC], 2);
        const bias = seeded([c.outC], 4);
        const loss = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
          weightedSum(
            tf.fused.conv2d({
              x: a as tf.Tensor4D, filter: b as tf.Tensor4D, bias: d, strides: c.stride, pad: c.pad, activation,
            }),
            3,
          );
        return tf.grads(loss)([x, filter, bias]);
      });
    }
  }
});

test('both filter-gradient methods (im2col, swapped convolution) match cpu in every case', async () => {
  for (const c of CASES) {
    const reference = await runOn('cpu', () => {
      const x = seeded([2, c.h, c.w, c.inC], 1);
      const filter = seeded([c.k, c.k, c.inC, c.outC], 2);
      return [tf.grad((b: tf.Tensor) => weightedSum(tf.conv2d(x as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), 3))(filter)];
    });
    for (const method of ['im2col', 'swapped-conv'] as const) {
      const actual = await runOn('wasm', () => {
        const x = seeded([2, c.h, c.w, c.inC], 1) as tf.Tensor4D;
        const filterShape: [number, number, number, number] = [c.k, c.k, c.inC, c.outC];
        const dy = seeded(tf.conv2d(x, tf.zeros(filterShape) as tf.Tensor4D, c.stride, c.pad).shape, 3) as tf.Tensor4D;
        return [conv2dFilterGradient(x, dy, filterShape, { strides: c.stride, pad: c.pad, dilations: 1 }, { method })];
      });
      const diff = maxRelativeDiff(reference, actual);
      assert.ok(diff <= 1e-4, `${method} ${label(c)}: differs from cpu by ${diff}`);
    }
  }
});

test('Conv2DBackpropFilter and Conv2DBackpropInput kernels honour NCHW data format', async () => {
  await assertWasmMatchesCpu('NCHW gradients', () => {
    const x = seeded([2, 3, 7, 8], 1);
    const filter = seeded([3, 3, 3, 4], 3);
    const dy = seeded([2, 4, 4, 4], 2); // 'same', stride 2: ceil(7/2) x ceil(8/2)
    const attrs = { strides: 2, pad: 'same', dataFormat: 'NCHW' };
    const engine = tf.engine();
    return [
      engine.runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: [3, 3, 3, 4] } as never) as tf.Tensor,
      engine.runKernel('Conv2DBackpropInput', { dy, filter }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor,
    ];
  });
});

/** A dilated filter written out with zeros between its taps: conv(x, w, dilation d) = conv(x, dilate(w, d)). */
function dilateFilter(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, inC, outC] = w.shape;
  const spread = tf.pad(tf.reshape(w, [kh, 1, kw, 1, inC, outC]), [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(spread, [kh * d, kw * d, inC, outC]), 0, [(kh - 1) * d + 1, (kw - 1) * d + 1, inC, outC]) as tf.Tensor4D;
}

test('conv gradients with dilation 2 match the gradients through an explicitly dilated filter', async () => {
  // tfjs's own conv gradients reject dilation > 1 on every backend, so the reference is built by hand on cpu.
  for (const pad of ['valid', 'same'] as const) {
    const inputs = () => ({ x: seeded([2, 9, 8, 2], 1) as tf.Tensor4D, w: seeded([3, 3, 2, 3], 2) as tf.Tensor4D });
    const reference = await runOn('cpu', () => {
      const { x, w } = inputs();
      const forward = tf.conv2d(x, w, 1, pad, 'NHWC', 2);
      const viaDilated = tf.conv2d(x, dilateFilter(w, 2), 1, pad);
      assert.ok(maxRelativeDiff([forward.dataSync() as Float32Array], [viaDilated.dataSync() as Float32Array]) < 1e-5);
      const loss = (a: tf.Tensor, v: tf.Tensor) => weightedSum(tf.conv2d(a as tf.Tensor4D, dilateFilter(v as tf.Tensor4D, 2), 1, pad), 3);
      return tf.grads(loss)([x, w]);
    });
    for (const method of ['im2col', 'swapped-conv'] as const) {
      const actual = await runOn('wasm', () => {
        const { x, w } = inputs();
        const dy = seeded(tf.conv2d(x, w, 1, pad, 'NHWC', 2).shape, 3) as tf.Tensor4D;
        const spec = { strides: 1, pad, dilations: 2 };
        return [conv2dInputGradient(dy, w, x.shape, spec), conv2dFilterGradient(x, dy, w.shape, spec, { method })];
      });
      const diff = maxRelativeDiff(reference, actual);
      assert.ok(diff <= 1e-4, `dilation 2 ${pad} ${method}: differs by ${diff}`);
    }
  }
});

test('a batch split into im2col chunks sums to the same filter gradient', async () => {
  const inputs = () => ({ x: seeded([5, 7, 6, 3], 1) as tf.Tensor4D, dy: seeded([5, 4, 3, 2], 2) as tf.Tensor4D });
  const spec = { strides: 2, pad: 'same' as const, dilations: 1 };
  const whole = await runOn('wasm', () => {
    const { x, dy } = inputs();
    return [conv2dFilterGradient(x, dy, [3, 3, 3, 2], spec, { method: 'im2col' })];
  });
  // 4·3 rows x 27 patch values = 324 per sample: a 700-value budget gives chunks of 2, 2 and 1 samples.
  const chunked = await runOn('wasm', () => {
    const { x, dy } = inputs();
    return [conv2dFilterGradient(x, dy, [3, 3, 3, 2], spec, { method: 'im2col', maxPatchValues: 700 })];
  });
  assert.ok(maxRelativeDiff(whole, chunked) <= 1e-5);
});
