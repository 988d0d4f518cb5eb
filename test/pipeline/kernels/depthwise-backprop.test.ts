import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { depthwiseFilterGradient, depthwiseInputGradient } from '../../../pipeline/kernels/depthwise-backprop.ts';
import { assertWasmMatchesCpu, maxRelativeDiff, runOn, seeded } from './compare-backends.ts';

type Pad = 'same' | 'valid' | tf.backend_util.ExplicitPadding;
interface Case { stride: number; pad: Pad; k: number; h: number; w: number; c: number; m: number }

const CASES: Case[] = [
  { stride: 1, pad: 'valid', k: 3, h: 7, w: 8, c: 3, m: 1 },
  { stride: 1, pad: 'same', k: 3, h: 7, w: 7, c: 2, m: 2 },
  { stride: 2, pad: 'same', k: 3, h: 9, w: 8, c: 3, m: 2 },
  { stride: 2, pad: 'valid', k: 3, h: 8, w: 9, c: 2, m: 1 },
  { stride: 1, pad: 'same', k: 5, h: 9, w: 7, c: 2, m: 3 },
  { stride: 3, pad: 'same', k: 2, h: 10, w: 11, c: 3, m: 2 },
  { stride: 2, pad: [[0, 0], [1, 2], [2, 0], [0, 0]], k: 3, h: 9, w: 9, c: 2, m: 2 },
];

const label = (c: Case) => `k${c.k} s${c.stride} ${JSON.stringify(c.pad)} ${c.h}x${c.w}x${c.c} m${c.m}`;
const weightedSum = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, seeded(y.shape, seed)));

test('DepthwiseConv2D gradients (input and filter, depth multiplier 1-3) on wasm match cpu', async () => {
  for (const c of CASES) {
    await assertWasmMatchesCpu(`depthwise ${label(c)}`, () => {
      const x = seeded([2, c.h, c.w, c.c], 1);
      const filter = seeded([c.k, c.k, c.c, c.m], 2);
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        weightedSum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.stride, c.pad), 3);
      return tf.grads(loss)([x, filter]);
    });
  }
});

test('fused depthwise conv2d gradients (bias, linear) on wasm match cpu', async () => {
  for (const c of CASES.slice(1, 4)) {
    await assertWasmMatchesCpu(`fused depthwise ${label(c)}`, () => {
      const x = seeded([2, c.h, c.w, c.c], 1);
      const filter = seeded([c.k, c.k, c.c, c.m], 2);
      const bias = seeded([c.c * c.m], 4);
      const loss = (a: tf.Tensor, b: tf.Tensor, d: tf.Tensor) =>
        weightedSum(
          tf.fused.depthwiseConv2d({ x: a as tf.Tensor4D, filter: b as tf.Tensor4D, bias: d, strides: c.stride, pad: c.pad as 'same' | 'valid' }),
          3,
        );
      return tf.grads(loss)([x, filter, bias]);
    });
  }
});

test('separable conv2d gradients (depth multiplier 2, stride 2) on wasm match cpu', async () => {
  await assertWasmMatchesCpu('separable', () => {
    const x = seeded([2, 9, 8, 3], 1);
    const depthwise = seeded([3, 3, 3, 2], 2);
    const pointwise = seeded([1, 1, 6, 4], 3);
    const loss = (a: tf.Tensor, b: tf.Tensor, p: tf.Tensor) =>
      weightedSum(tf.separableConv2d(a as tf.Tensor4D, b as tf.Tensor4D, p as tf.Tensor4D, 2, 'same'), 4);
    return tf.grads(loss)([x, depthwise, pointwise]);
  });
});

/** conv(x, w, dilation d) = conv(x, dilate(w, d)): the filter with d - 1 zeros between taps. */
function dilateFilter(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, c, m] = w.shape;
  const spread = tf.pad(tf.reshape(w, [kh, 1, kw, 1, c, m]), [[0, 0], [0, d - 1], [0, 0], [0, d - 1], [0, 0], [0, 0]]);
  return tf.slice(tf.reshape(spread, [kh * d, kw * d, c, m]), 0, [(kh - 1) * d + 1, (kw - 1) * d + 1, c, m]) as tf.Tensor4D;
}

test('depthwise backprop kernels honour dilation 2 (reference: gradients through an explicitly dilated filter)', async () => {
  // tfjs's depthwise gradient refuses dilation > 1 and the cpu kernels ignore it, so the reference is built by hand.
  for (const pad of ['valid', 'same'] as const) {
    const inputs = () => ({ x: seeded([2, 9, 8, 2], 1) as tf.Tensor4D, w: seeded([3, 3, 2, 2], 2) as tf.Tensor4D });
    const reference = await runOn('cpu', () => {
      const { x, w } = inputs();
      const loss = (a: tf.Tensor, v: tf.Tensor) =>
        weightedSum(tf.depthwiseConv2d(a as tf.Tensor4D, dilateFilter(v as tf.Tensor4D, 2), 1, pad), 3);
      return tf.grads(loss)([x, w]);
    });
    const actual = await runOn('wasm', () => {
      const { x, w } = inputs();
      const dy = seeded(tf.depthwiseConv2d(x, w, 1, pad, 'NHWC', 2).shape, 3) as tf.Tensor4D;
      const attrs = { strides: 1, pad, dilations: 2 };
      const engine = tf.engine();
      return [
        engine.runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: w }, { ...attrs, inputShape: x.shape } as never) as tf.Tensor,
        engine.runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...attrs, filterShape: w.shape } as never) as tf.Tensor,
      ];
    });
    const diff = maxRelativeDiff(reference, actual);
    assert.ok(diff <= 1e-4, `dilation 2 ${pad}: differs by ${diff}`);
  }
});

test('the exported gradient functions agree with the registered kernels', async () => {
  const spec = { strides: 2, pad: 'same' as const, dilations: 1 };
  const viaFunctions = await runOn('wasm', () => {
    const x = seeded([1, 7, 7, 2], 1) as tf.Tensor4D;
    const w = seeded([3, 3, 2, 2], 2) as tf.Tensor4D;
    const dy = seeded([1, 4, 4, 4], 3) as tf.Tensor4D;
    return [depthwiseInputGradient(dy, w, x.shape, spec), depthwiseFilterGradient(x, dy, w.shape, spec)];
  });
  const viaGrads = await runOn('wasm', () => {
    const x = seeded([1, 7, 7, 2], 1);
    const w = seeded([3, 3, 2, 2], 2);
    return tf.grads((a: tf.Tensor, b: tf.Tensor) => weightedSum(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same'), 3))([x, w]);
  });
  assert.ok(maxRelativeDiff(viaGrads, viaFunctions) <= 1e-5);
});
