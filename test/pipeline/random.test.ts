import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRng, deriveSeed, permutation } from '../../pipeline/random.ts';

test('same seed gives the same stream, different seeds differ', () => {
  const a = createRng(42);
  const b = createRng(42);
  const c = createRng(43);
  const sa = Array.from({ length: 100 }, () => a.next());
  const sb = Array.from({ length: 100 }, () => b.next());
  const sc = Array.from({ length: 100 }, () => c.next());
  assert.deepEqual(sa, sb);
  assert.notDeepEqual(sa, sc);
});

test('seeds beyond 32 bits and fractional seeds give distinct streams', () => {
  const first = (seed: number) => createRng(seed).next();
  assert.notEqual(first(1), first(2 ** 32 + 1));
  assert.notEqual(first(1), first(1.5));
  assert.throws(() => createRng(Number.NaN), RangeError);
});

// Recorded from this implementation; a change here changes every seeded split and shuffle.
const PINNED_INTS_SEED_7 = [686, 955, 133, 959];

test('the stream is pinned, so every machine draws the same numbers', () => {
  // Integer-only arithmetic makes these exact on every platform.
  const rng = createRng(7);
  const drawn = Array.from({ length: 4 }, () => rng.int(1000));
  assert.deepEqual(drawn, PINNED_INTS_SEED_7);
});

test('next() is in [0, 1) and roughly uniform', () => {
  const rng = createRng(1);
  const bins = new Array(10).fill(0);
  for (let i = 0; i < 100_000; i++) {
    const v = rng.next();
    assert.ok(v >= 0 && v < 1);
    bins[Math.floor(v * 10)]++;
  }
  for (const n of bins) assert.ok(Math.abs(n - 10_000) < 500, `bin count ${n}`);
});

test('int(n) covers 0..n-1 and rejects bad n', () => {
  const rng = createRng(3);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(rng.int(5));
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3, 4]);
  assert.throws(() => rng.int(0), RangeError);
  assert.throws(() => rng.int(2.5), RangeError);
});

test('normal() has mean ~0 and variance ~1', () => {
  const rng = createRng(5);
  const n = 50_000;
  let sum = 0;
  let sq = 0;
  for (let i = 0; i < n; i++) {
    const z = rng.normal();
    assert.ok(Number.isFinite(z));
    sum += z;
    sq += z * z;
  }
  const mean = sum / n;
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(sq / n - mean * mean - 1) < 0.03, `variance ${sq / n}`);
});

test('shuffle is in place, a permutation, and deterministic', () => {
  const a = Array.from({ length: 50 }, (_, i) => i);
  const same = createRng(9).shuffle(a);
  assert.equal(same, a);
  assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  assert.notDeepEqual(a, Array.from({ length: 50 }, (_, i) => i));
  assert.deepEqual(permutation(50, createRng(9)), a);
});

test('deriveSeed gives distinct, stable seeds per label', () => {
  assert.equal(deriveSeed(1, 'limit'), deriveSeed(1, 'limit'));
  assert.notEqual(deriveSeed(1, 'limit'), deriveSeed(1, 'split'));
  assert.notEqual(deriveSeed(1, 'limit'), deriveSeed(2, 'limit'));
});
