/** Window arithmetic shared by convolutions and pools, against hand-worked TensorFlow values. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { convOutputLength, deconvLength, samePads, windowPads } from '../../../pipeline/layers/window.ts';

test("TF 'same' pads: the odd extra goes after (bottom/right), computed from the input size", () => {
  assert.deepEqual(samePads(8, 3, 2, 1), [0, 1]); // out 4: (4-1)*2+3-8 = 1
  assert.deepEqual(samePads(7, 3, 2, 1), [1, 1]);
  assert.deepEqual(samePads(6, 4, 1, 1), [1, 2]);
  assert.deepEqual(samePads(5, 1, 2, 1), [0, 0]);
  assert.deepEqual(samePads(10, 3, 1, 2), [2, 2]); // effective kernel 5
  assert.deepEqual(samePads(4, 2, 2, 1), [0, 0]);
});

test('output lengths: valid, same (ceil), causal (as long as the input), dilated; transposed lengths', () => {
  assert.equal(convOutputLength(9, 3, 'valid', 2), 4);
  assert.equal(convOutputLength(9, 3, 'same', 2), 5);
  assert.equal(convOutputLength(9, 3, 'causal', 1, 2), 9);
  assert.equal(convOutputLength(10, 3, 'valid', 1, 2), 6);
  assert.equal(deconvLength(4, 2, 3, 'valid'), 9);
  assert.equal(deconvLength(4, 2, 3, 'same'), 8);
  assert.equal(deconvLength(4, 1, 3, 'valid'), 6);
});

test('windowPads spells out [top, left, bottom, right]', () => {
  assert.deepEqual(windowPads('valid', [8, 7], [3, 3], [2, 2]), [0, 0, 0, 0]);
  assert.deepEqual(windowPads('same', [8, 7], [3, 3], [2, 2]), [0, 1, 1, 1]);
});
