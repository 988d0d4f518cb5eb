import { createHash } from 'node:crypto';
import { SlimnetError } from '../errors.ts';
import { createRng, type Rng } from '../random.ts';
import type { DataSplits, LabelledSet, ValidationSource } from './types.ts';

export interface SplitOptions {
  /** Share of the train set held out for validation, in (0, 1). */
  validationFraction: number;
  seed: number;
  describe: Record<string, unknown>;
  /** A separate held-out validation set: nothing is carved from train. */
  validation?: { set: LabelledSet; source: Extract<ValidationSource, { kind: 'separate' }> };
}

export interface Batch {
  /** size * prod(sampleShape) values. A view into the set when taken in order, a copy when gathered. */
  x: Float32Array;
  y: Int32Array;
  /** The set's teacher outputs for these samples, when it has them. */
  targets?: Float32Array;
  /** Position of the batch's first sample in the iteration order. */
  start: number;
  size: number;
}

/** Values per sample. */
export function sampleSize(set: Pick<LabelledSet, 'sampleShape'>): number {
  return set.sampleShape.reduce((a, b) => a * b, 1);
}

/** Teacher output values per sample (0 without targets). */
function targetSize(set: Pick<LabelledSet, 'targets' | 'count'>): number {
  return set.targets && set.count ? set.targets.length / set.count : 0;
}

/** A new set holding the given samples, in the given order (copied). */
export function subset(set: LabelledSet, indices: ArrayLike<number>): LabelledSet {
  const per = sampleSize(set);
  const tPer = targetSize(set);
  const x = new Float32Array(indices.length * per);
  const y = new Int32Array(indices.length);
  const targets = set.targets ? new Float32Array(indices.length * tPer) : undefined;
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= set.count) throw new RangeError(`subset: index ${i} outside 0..${set.count - 1}`);
    x.set(set.x.subarray(i * per, (i + 1) * per), k * per);
    y[k] = set.y[i] as number;
    targets?.set(set.targets!.subarray(i * tPer, (i + 1) * tPer), k * tPer);
  }
  return { x, y, ...(targets ? { targets } : {}), count: indices.length, sampleShape: [...set.sampleShape], numClasses: set.numClasses };
}

/** The first n samples (or all if fewer), as views without copying. */
export function takeFirst(set: LabelledSet, n: number): LabelledSet {
  const count = Math.max(0, Math.min(Math.floor(n), set.count));
  const per = sampleSize(set);
  return {
    x: set.x.subarray(0, count * per),
    y: set.y.subarray(0, count),
    ...(set.targets ? { targets: set.targets.subarray(0, count * targetSize(set)) } : {}),
    count,
    sampleShape: [...set.sampleShape],
    numClasses: set.numClasses,
  };
}

/**
 * Mini-batches without ever materialising the whole set as one tensor. In set order the batches are views;
 * with `order` (e.g. a per-epoch permutation) each batch is gathered into a fresh copy.
 */
export function* batches(set: LabelledSet, batchSize: number, order?: ArrayLike<number>): Generator<Batch> {
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new RangeError(`batches: batchSize must be a positive integer, got ${batchSize}`);
  const per = sampleSize(set);
  const tPer = targetSize(set);
  const total = order ? order.length : set.count;
  for (let start = 0; start < total; start += batchSize) {
    const size = Math.min(batchSize, total - start);
    if (!order) {
      const targets = set.targets?.subarray(start * tPer, (start + size) * tPer);
      yield { x: set.x.subarray(start * per, (start + size) * per), y: set.y.subarray(start, start + size), ...(targets ? { targets } : {}), start, size };
      continue;
    }
    const picked = Array.from({ length: size }, (_, k) => order[start + k] as number);
    const { x, y, targets } = subset(set, picked);
    yield { x, y, ...(targets ? { targets } : {}), start, size };
  }
}

/**
 * How many samples of each class go to validation: floor of each class's share, then the leftover samples
 * to the classes with the largest remainders, so the total is exactly round(fraction * count).
 */
function validationQuota(classCounts: number[], fraction: number): number[] {
  const total = classCounts.reduce((a, b) => a + b, 0);
  const exact = classCounts.map((n) => n * fraction);
  const quota = exact.map(Math.floor);
  let leftover = Math.round(total * fraction) - quota.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((e, c) => ({ c, r: e - Math.floor(e) })).sort((a, b) => b.r - a.r || a.c - b.c);
  for (const { c } of byRemainder) {
    if (leftover <= 0) break;
    if ((quota[c] as number) < (classCounts[c] as number)) {
      quota[c] = (quota[c] as number) + 1;
      leftover--;
    }
  }
  return quota;
}

/** Stratified seeded hold-out: indices of the train set that become validation, and those that stay. */
function stratifiedHoldOut(y: Int32Array, numClasses: number, fraction: number, rng: Rng): { keep: number[]; hold: number[] } {
  const byClass: number[][] = Array.from({ length: numClasses }, () => []);
  for (let i = 0; i < y.length; i++) (byClass[y[i] as number] as number[]).push(i);
  const quota = validationQuota(byClass.map((c) => c.length), fraction);
  const isHeld = new Uint8Array(y.length);
  byClass.forEach((members, c) => {
    for (const i of rng.shuffle(members).slice(0, quota[c])) isHeld[i] = 1;
  });
  const keep: number[] = [];
  const hold: number[] = [];
  // Both keep the source order so a split is a plain selection of the original samples.
  for (let i = 0; i < y.length; i++) (isHeld[i] ? hold : keep).push(i);
  return { keep, hold };
}

/** Indices (ascending) of a seeded, class-stratified sample of `n` samples of `set` (all when n ≥ its count). */
export function stratifiedSample(set: LabelledSet, n: number, seed: number): number[] {
  if (n >= set.count) return Array.from({ length: set.count }, (_, i) => i);
  return stratifiedHoldOut(set.y, set.numClasses, n / set.count, createRng(seed)).hold;
}

function bytesOf(a: Float32Array | Int32Array): Buffer {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength);
}

/** sha256 over how the splits were made and every byte of their contents (typed arrays are little-endian on all supported platforms). */
export function fingerprintSplits(splits: Pick<DataSplits, 'train' | 'validation' | 'test'>, how: { validationFraction: number; seed: number } | { validation: 'separate' }): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ v: 1, ...how, sampleShape: splits.train.sampleShape, numClasses: splits.train.numClasses }));
  for (const name of ['train', 'validation', 'test'] as const) {
    const s = splits[name];
    hash.update(`|${name}:${s.count}|`);
    hash.update(bytesOf(s.x));
    hash.update(bytesOf(s.y));
    if (s.targets) hash.update(bytesOf(s.targets));
  }
  return hash.digest('hex');
}

/**
 * Carves a seeded, class-stratified validation split from `train` — or, given `opts.validation`, uses that held-out
 * set and keeps all of train; `test` is passed through untouched. Data without labels (all y 0) make one stratum: a
 * plain seeded hold-out.
 */
export function makeSplits(train: LabelledSet, test: LabelledSet, opts: SplitOptions & { labelled?: boolean }): DataSplits {
  const { validationFraction, seed } = opts;
  if (opts.validation) return withSeparateValidation(train, opts.validation, test, opts.describe);
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new SlimnetError('CONFIG_INVALID', 'validationFraction', `must be between 0 and 1 (exclusive), got ${validationFraction}`,
      'validation is what the accuracy gate measures; 0.1 is a common choice');
  }
  if (train.sampleShape.join('x') !== test.sampleShape.join('x')) {
    throw new SlimnetError('DATA_INVALID', 'test', `test samples are [${test.sampleShape}] but train samples are [${train.sampleShape}]`);
  }
  const numClasses = Math.max(train.numClasses, test.numClasses);
  const { keep, hold } = stratifiedHoldOut(train.y, numClasses, validationFraction, createRng(seed));
  if (hold.length === 0 || keep.length === 0) {
    throw new SlimnetError('DATA_INVALID', 'train', `validationFraction ${validationFraction} of ${train.count} training samples leaves ` +
      `${keep.length} for training and ${hold.length} for validation`, 'use more training data or a different validationFraction');
  }
  const withClasses = (s: LabelledSet): LabelledSet => ({ ...s, numClasses });
  const parts = {
    train: withClasses(subset(train, keep)),
    validation: withClasses(subset(train, hold)),
    test: withClasses(test),
  };
  return {
    ...parts,
    fingerprint: fingerprintSplits(parts, { validationFraction, seed }),
    labelled: opts.labelled ?? true,
    describe: opts.describe,
    validationSource: { kind: 'carved', fraction: validationFraction, seed },
  };
}

function withSeparateValidation(train: LabelledSet, separate: NonNullable<SplitOptions['validation']>, test: LabelledSet, describe: Record<string, unknown>): DataSplits {
  const validation = separate.set;
  for (const [name, set] of [['validation', validation], ['test', test]] as const) {
    if (set.sampleShape.join('x') !== train.sampleShape.join('x')) {
      throw new SlimnetError('DATA_INVALID', name, `${name} samples are [${set.sampleShape}] but train samples are [${train.sampleShape}]`);
    }
  }
  const numClasses = Math.max(train.numClasses, validation.numClasses, test.numClasses);
  const parts = {
    train: { ...train, numClasses },
    validation: { ...validation, numClasses },
    test: { ...test, numClasses },
  };
  return { ...parts, fingerprint: fingerprintSplits(parts, { validation: 'separate' }), labelled: true, describe, validationSource: separate.source };
}
