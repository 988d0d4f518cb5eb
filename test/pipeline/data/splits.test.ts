import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { batches, makeSplits, subset, takeFirst } from '../../../pipeline/data/splits.ts';
import type { LabelledSet } from '../../../pipeline/data/types.ts';

/** Each sample's values are [id, id + 0.5], so every sample is identifiable after splitting. */
function makeSet(labels: number[], idOffset = 0): LabelledSet {
  const x = new Float32Array(labels.length * 2);
  labels.forEach((_, i) => {
    x[2 * i] = i + idOffset;
    x[2 * i + 1] = i + idOffset + 0.5;
  });
  return { x, y: Int32Array.from(labels), count: labels.length, sampleShape: [2, 1], numClasses: Math.max(...labels) + 1 };
}
const ids = (s: LabelledSet) => Array.from({ length: s.count }, (_, i) => s.x[2 * i]!);
const countClasses = (s: LabelledSet, k: number) => {
  const c = new Array(k).fill(0);
  for (const v of s.y) c[v]++;
  return c;
};

// Unbalanced classes: 60 of class 0, 30 of class 1, 10 of class 2, interleaved.
const labels = Array.from({ length: 100 }, (_, i) => (i % 10 < 6 ? 0 : i % 10 < 9 ? 1 : 2));
const train = makeSet(labels);
const testSet = makeSet([0, 1, 2, 1], 1000);
const opts = { validationFraction: 0.2, seed: 11, describe: { source: 'unit' } };

test('splits are deterministic for a seed and disjoint, covering train exactly', () => {
  const a = makeSplits(train, testSet, opts);
  const b = makeSplits(train, testSet, opts);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.deepEqual(ids(a.validation), ids(b.validation));
  const trainIds = ids(a.train);
  const valIds = ids(a.validation);
  assert.equal(new Set([...trainIds, ...valIds]).size, 100);
  assert.deepEqual([...trainIds, ...valIds].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
  // Labels and both values of a sample travel together.
  for (const s of [a.train, a.validation]) {
    for (let i = 0; i < s.count; i++) {
      assert.equal(s.y[i], labels[s.x[2 * i]!]);
      assert.equal(s.x[2 * i + 1], s.x[2 * i]! + 0.5);
    }
  }
  assert.deepEqual(a.describe, { source: 'unit' });
});

test('validation is stratified per class and sized round(fraction * count)', () => {
  const s = makeSplits(train, testSet, opts);
  assert.equal(s.validation.count, 20);
  assert.deepEqual(countClasses(s.validation, 3), [12, 6, 2]);
  assert.deepEqual(countClasses(s.train, 3), [48, 24, 8]);
  const odd = makeSplits(train, testSet, { ...opts, validationFraction: 0.15 });
  assert.equal(odd.validation.count, 15);
  // Shares 9, 4.5, 1.5: each class gets its share rounded one way or the other.
  countClasses(odd.validation, 3).forEach((n, c) => assert.ok(Math.abs(n - [9, 4.5, 1.5][c]!) < 1, `class ${c}: ${n}`));
});

test('test is untouched; the fingerprint follows seed, fraction and contents', () => {
  const s = makeSplits(train, testSet, opts);
  assert.deepEqual(Array.from(s.test.x), Array.from(testSet.x));
  assert.deepEqual(Array.from(s.test.y), Array.from(testSet.y));
  const otherSeed = makeSplits(train, testSet, { ...opts, seed: 12 });
  assert.notEqual(otherSeed.fingerprint, s.fingerprint);
  assert.notDeepEqual(ids(otherSeed.validation), ids(s.validation));
  assert.notEqual(makeSplits(train, testSet, { ...opts, validationFraction: 0.3 }).fingerprint, s.fingerprint);
  const changedTest = makeSet([0, 1, 2, 1], 1000);
  changedTest.x[3] = 99;
  assert.notEqual(makeSplits(train, changedTest, opts).fingerprint, s.fingerprint);
  assert.match(s.fingerprint, /^[0-9a-f]{64}$/);
});

test('numClasses is shared by all three splits', () => {
  const s = makeSplits(makeSet([0, 1, 0, 1, 0, 1]), makeSet([3, 0]), { ...opts, validationFraction: 0.5 });
  assert.deepEqual([s.train.numClasses, s.validation.numClasses, s.test.numClasses], [4, 4, 4]);
});

test('bad fractions and too little data are SlimnetErrors', () => {
  for (const f of [0, 1, -0.1, Number.NaN]) {
    assert.throws(() => makeSplits(train, testSet, { ...opts, validationFraction: f }),
      (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && e.where === 'validationFraction');
  }
  assert.throws(() => makeSplits(makeSet([0, 1]), testSet, { ...opts, validationFraction: 0.1 }),
    (e: unknown) => e instanceof SlimnetError && e.code === 'DATA_INVALID' && /leaves 2 for training and 0 for validation/.test(e.message));
  const wrongShape = { ...testSet, sampleShape: [1, 2] };
  assert.throws(() => makeSplits(train, wrongShape, opts), (e: unknown) => e instanceof SlimnetError && e.code === 'DATA_INVALID');
});

test('subset copies the chosen samples in the given order', () => {
  const s = subset(train, [5, 0, 5]);
  assert.deepEqual(ids(s), [5, 0, 5]);
  assert.deepEqual(Array.from(s.y), [labels[5], labels[0], labels[5]]);
  s.x[0] = -1;
  assert.equal(train.x[10], 5, 'subset must not alias the source');
  assert.throws(() => subset(train, [100]), RangeError);
});

test('takeFirst keeps the first n (or all) samples', () => {
  assert.deepEqual(ids(takeFirst(train, 3)), [0, 1, 2]);
  assert.equal(takeFirst(train, 1000).count, 100);
  assert.equal(takeFirst(train, 0).count, 0);
});

test('batches cover the set once, last batch partial, in order or in a given order', () => {
  const seen: number[] = [];
  const sizes: number[] = [];
  for (const b of batches(train, 32)) {
    assert.equal(b.x.length, b.size * 2);
    assert.equal(b.y.length, b.size);
    assert.equal(b.start, seen.length);
    for (let i = 0; i < b.size; i++) seen.push(b.x[2 * i]!);
    sizes.push(b.size);
  }
  assert.deepEqual(sizes, [32, 32, 32, 4]);
  assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i));
  const order = [9, 3, 7, 1, 0];
  const gathered = [...batches(train, 2, order)];
  assert.deepEqual(gathered.map((b) => b.size), [2, 2, 1]);
  assert.deepEqual(gathered.flatMap((b) => [...b.y]), order.map((i) => labels[i]));
  assert.deepEqual(gathered.flatMap((b) => Array.from({ length: b.size }, (_, i) => b.x[2 * i])), order);
  assert.throws(() => batches(train, 0).next(), RangeError);
});
