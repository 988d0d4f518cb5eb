import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertWasmMatchesCpu, seeded } from './compare-backends.ts';

const FLAGS = [[false, false], [true, false], [false, true], [true, true]] as const;

test('matMul with every transpose combination (rank 2 and batched) and its gradients on wasm match cpu', async () => {
  for (const [ta, tb] of FLAGS) {
    await assertWasmMatchesCpu(`matMul ta=${ta} tb=${tb}`, () => {
      const a = seeded(ta ? [7, 5] : [5, 7], 1);
      const b = seeded(tb ? [3, 7] : [7, 3], 2);
      const y = tf.matMul(a, b, ta, tb);
      const grads = tf.grads((p: tf.Tensor, q: tf.Tensor) => tf.sum(tf.mul(tf.matMul(p, q, ta, tb), seeded([5, 3], 3))))([a, b]);
      return [y, ...grads];
    });
    await assertWasmMatchesCpu(`batched matMul ta=${ta} tb=${tb}`, () => {
      const a = seeded(ta ? [2, 4, 6] : [2, 6, 4], 1);
      const b = seeded(tb ? [1, 3, 4] : [1, 4, 3], 2); // batch 1 broadcasts against 2
      return [tf.matMul(a, b, ta, tb)];
    });
  }
});

test('fused matMul (bias, relu) with transposed operands on wasm matches cpu', async () => {
  for (const [ta, tb] of FLAGS) {
    await assertWasmMatchesCpu(`fused matMul ta=${ta} tb=${tb}`, () => {
      const a = seeded(ta ? [7, 5] : [5, 7], 1);
      const b = seeded(tb ? [3, 7] : [7, 3], 2);
      const bias = seeded([3], 3);
      return [tf.fused.matMul({ a, b, transposeA: ta, transposeB: tb, bias, activation: 'relu' })];
    });
  }
});
