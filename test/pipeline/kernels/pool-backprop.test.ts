import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertWasmMatchesCpu, runOn, seeded } from './compare-backends.ts';

interface PoolCase { k: number; stride: number; pad: 'same' | 'valid'; h: number; w: number }

// Tiling windows (stride = size) take a reshape path, overlapping or gapped ones the general path; both are here,
// with odd sizes, leftover rows under 'valid' and leading padding under 'same' (k3 s3 on 7: one row each side).
const CASES: PoolCase[] = [
  { k: 2, stride: 2, pad: 'valid', h: 8, w: 8 },
  { k: 2, stride: 2, pad: 'valid', h: 7, w: 9 },
  { k: 2, stride: 2, pad: 'same', h: 7, w: 5 },
  { k: 3, stride: 3, pad: 'same', h: 7, w: 8 },
  { k: 3, stride: 2, pad: 'same', h: 7, w: 7 },
  { k: 3, stride: 2, pad: 'valid', h: 8, w: 9 },
  { k: 3, stride: 1, pad: 'same', h: 5, w: 6 },
  { k: 2, stride: 3, pad: 'same', h: 10, w: 11 },
  { k: 5, stride: 1, pad: 'same', h: 9, w: 7 },
];
const label = (c: PoolCase) => `k${c.k} s${c.stride} ${c.pad} ${c.h}x${c.w}`;
const weightedSum = (y: tf.Tensor, seed: number) => tf.sum(tf.mul(y, seeded(y.shape, seed)));

test('MaxPooling gradients on wasm match cpu', async () => {
  for (const c of CASES) {
    await assertWasmMatchesCpu(`maxPool ${label(c)}`, () => {
      const x = seeded([2, c.h, c.w, 3], 1);
      return [tf.grad((a: tf.Tensor) => weightedSum(tf.maxPool(a as tf.Tensor4D, c.k, c.stride, c.pad), 2))(x)];
    });
  }
});

test('AveragePooling gradients on wasm match cpu', async () => {
  for (const c of CASES) {
    await assertWasmMatchesCpu(`avgPool ${label(c)}`, () => {
      const x = seeded([2, c.h, c.w, 3], 1);
      return [tf.grad((a: tf.Tensor) => weightedSum(tf.avgPool(a as tf.Tensor4D, c.k, c.stride, c.pad), 2))(x)];
    });
  }
});

async function maxPoolGradOnWasm(x: number[], shape: [number, number], k: number, stride: number, dy: number[]): Promise<number[]> {
  const [values] = await runOn('wasm', () => {
    const input = tf.tensor4d(x, [1, shape[0], shape[1], 1]);
    const weights = () => tf.tensor(dy, [1, Math.floor((shape[0] - k) / stride) + 1, Math.floor((shape[1] - k) / stride) + 1, 1]);
    return [tf.grad((a: tf.Tensor) => tf.sum(tf.mul(tf.maxPool(a as tf.Tensor4D, k, stride, 'valid'), weights())))(input)];
  });
  return Array.from(values!);
}

test('MaxPool gradient goes to the first maximum of a window on ties (tiling windows)', async () => {
  const x = [
    1, 1, 1, 1,
    2, 2, 2, 2,
    0, 3, 3, 0,
    1, 1, 1, 1,
  ];
  // Windows: top-left {1,1,2,2} -> (1,0); top-right -> (1,2); bottom-left {0,3,1,1} -> (2,1); bottom-right {3,0,1,1} -> (2,2).
  assert.deepEqual(await maxPoolGradOnWasm(x, [4, 4], 2, 2, [1, 2, 3, 4]), [
    0, 0, 0, 0,
    1, 0, 2, 0,
    0, 3, 4, 0,
    0, 0, 0, 0,
  ]);
});

test('MaxPool gradient goes to the first maximum of a window on ties (overlapping windows)', async () => {
  // A constant input: every window's first tap is its top-left cell.
  assert.deepEqual(await maxPoolGradOnWasm(Array(9).fill(5), [3, 3], 2, 1, [1, 2, 3, 4]), [
    1, 2, 0,
    3, 4, 0,
    0, 0, 0,
  ]);
});
