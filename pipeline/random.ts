/**
 * The one source of randomness in slimnet. Every random choice (splits, shuffles, initialisation, searches)
 * draws from a generator made here, so a run is reproducible from its seed on every machine.
 * mulberry32: 32-bit state, integer arithmetic only (Math.imul), hence bit-identical across platforms.
 */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  /** Standard normal (mean 0, variance 1), Box–Muller. */
  normal(): number;
  /** In-place Fisher–Yates shuffle; returns the same array. */
  shuffle<T>(a: T[]): T[];
}

/** Folds any finite seed (including non-integers and values beyond 32 bits) into a 32-bit state. */
function seedToState(seed: number): number {
  if (!Number.isFinite(seed)) throw new RangeError(`createRng: seed must be a finite number, got ${seed}`);
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, seed);
  // Mix both halves of the float's bits so that e.g. 1 and 2**32 + 1 give different streams.
  let h = Math.imul(view.getUint32(0) ^ 0x9e3779b9, 0x85ebca6b) ^ view.getUint32(4);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

export function createRng(seed: number): Rng {
  let state = seedToState(seed);
  let spareNormal: number | null = null;

  function next(): number {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  function int(n: number): number {
    if (!Number.isInteger(n) || n <= 0 || n > 2 ** 32) {
      throw new RangeError(`rng.int: n must be an integer in [1, 2^32], got ${n}`);
    }
    return Math.floor(next() * n);
  }

  function normal(): number {
    if (spareNormal !== null) {
      const z = spareNormal;
      spareNormal = null;
      return z;
    }
    const u1 = 1 - next(); // in (0, 1], so log never sees 0
    const u2 = next();
    const r = Math.sqrt(-2 * Math.log(u1));
    spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }

  function shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = int(i + 1);
      const tmp = a[i] as T;
      a[i] = a[j] as T;
      a[j] = tmp;
    }
    return a;
  }

  return { next, int, normal, shuffle };
}

/** A seeded permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): number[] {
  return rng.shuffle(Array.from({ length: n }, (_, i) => i));
}

/** A seed for an independent stream named `label` (e.g. 'limit', 'init:dense_1'), derived from a run's seed. */
export function deriveSeed(seed: number, label: string): number {
  let h = seedToState(seed) ^ 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return seedToState(h >>> 0);
}
