import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { labelledSetsFromArrays, type ArraysInput } from '../../../pipeline/data/arrays.ts';

const valid = (): ArraysInput => ({
  train: { x: [0, 0.1, 0.2, 0.3, 0.4, 0.5], y: [0, 2, 1] },
  test: { x: new Float32Array([1, 2]), y: new Int32Array([1]) },
  sampleShape: [2],
});

function expectInvalid(input: unknown, message: RegExp): void {
  assert.throws(() => labelledSetsFromArrays(input), (e: unknown) => {
    assert.ok(e instanceof SlimnetError, `expected SlimnetError, got ${e}`);
    assert.equal(e.code, 'DATA_INVALID');
    assert.equal(e.where, 'data.load()');
    assert.match(e.message, message);
    return true;
  });
}

test('valid arrays become labelled sets (copied, typed)', () => {
  const input = valid();
  const { train, test: t } = labelledSetsFromArrays(input);
  assert.equal(train.count, 3);
  assert.equal(t.count, 1);
  assert.ok(train.x instanceof Float32Array && train.y instanceof Int32Array);
  assert.deepEqual(Array.from(train.y), [0, 2, 1]);
  assert.equal(train.x[5], Math.fround(0.5));
  assert.equal(train.numClasses, 3);
  assert.equal(t.numClasses, 3);
  assert.deepEqual(t.sampleShape, [2]);
  (input.test.x as Float32Array)[0] = 9;
  assert.equal(t.x[0], 1, 'the caller keeps ownership of its arrays');
});

test('numClasses may be given explicitly, but not below the labels', () => {
  assert.equal(labelledSetsFromArrays({ ...valid(), numClasses: 10 }).train.numClasses, 10);
  expectInvalid({ ...valid(), numClasses: 2 }, /numClasses is 2 but a label is 2/);
  expectInvalid({ ...valid(), numClasses: 0 }, /numClasses must be a positive integer/);
});

test('wrong lengths and bad values name the array at fault', () => {
  const v = valid();
  expectInvalid({ ...v, train: { x: v.train.x.slice(0, 5), y: v.train.y } }, /train\.x has 5 values but train\.y has 3 labels .*expected 6/);
  expectInvalid({ ...v, test: { x: [1, 2, 3], y: [0] } }, /test\.x has 3 values .*expected 2/);
  expectInvalid({ ...v, train: { x: v.train.x, y: [0, -1, 1] } }, /train\.y\[1\] is -1/);
  expectInvalid({ ...v, train: { x: v.train.x, y: [0, 1.5, 1] } }, /train\.y\[1\] is 1\.5/);
  expectInvalid({ ...v, train: { x: [0, 0.1, Number.NaN, 0, 0, 0], y: v.train.y } }, /train\.x\[2\] is NaN/);
  expectInvalid({ ...v, train: { x: 'nope', y: v.train.y } }, /train\.x must be a Float32Array or number\[\], got string/);
  expectInvalid({ ...v, train: { x: [], y: [] } }, /train has no samples/);
  expectInvalid({ ...v, test: undefined }, /test is missing/);
});

test('sampleShape and the returned value itself are checked', () => {
  expectInvalid({ ...valid(), sampleShape: [2, 0] }, /sampleShape must be a non-empty list of positive integers/);
  expectInvalid({ ...valid(), sampleShape: undefined }, /sampleShape/);
  expectInvalid(undefined, /must return \{ train, test, sampleShape \}, got undefined/);
});

test('images without labels: no y in either set; every y is 0 and the sets say they are unlabelled', () => {
  const r = labelledSetsFromArrays({ train: { x: [0, 0.1, 0.2, 0.3, 0.4, 0.5] }, test: { x: [1, 2] }, sampleShape: [2] });
  assert.equal(r.labelled, false);
  assert.equal(r.train.count, 3);
  assert.equal(r.test.count, 1);
  assert.deepEqual(Array.from(r.train.y), [0, 0, 0]);
  assert.equal(labelledSetsFromArrays(valid()).labelled, true);
  expectInvalid({ train: { x: [0, 1, 2] }, test: { x: [1, 2] }, sampleShape: [2] }, /train\.x has 3 values, not a whole number of samples of 2/);
  expectInvalid({ ...valid(), test: { x: [1, 2] } }, /test\.y is missing but train\.y is given/);
  expectInvalid({ train: { x: [] }, test: { x: [1, 2] }, sampleShape: [2] }, /train has no samples/);
});
