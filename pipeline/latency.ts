/**
 * Single-sample (batch 1) latency of several predictors measured side by side: the runs are interleaved — every
 * round times each predictor once on the same sample, in a rotating order — so drift of a shared machine (other
 * processes, thermal state) lands on all of them alike. Reported as the median with the quartiles as spread.
 */
import type { LabelledSet } from './data/types.ts';
import { sampleSize } from './data/splits.ts';
import type { Predictor } from './evaluate.ts';

export interface LatencySpread {
  /** Median milliseconds of one inference (batch 1 unless the caller asked for more). */
  median: number;
  /** First and third quartile, ms. */
  q1: number;
  q3: number;
  runs: number;
}

const WARMUP_RUNS = 3;

function quantile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

/** `runs` interleaved rounds over the first samples of `set` (cycling when it has fewer), `batch` samples per inference. */
export async function interleavedLatency(predictors: Predictor[], set: LabelledSet, runs: number, batch = 1): Promise<LatencySpread[]> {
  const size = sampleSize(set);
  if (predictors.length === 0 || runs <= 0 || set.count === 0) return [];
  const n = Math.min(batch, set.count);
  const sample = (i: number) => {
    const start = (i * n) % set.count;
    const from = start + n <= set.count ? start : 0;
    return set.x.subarray(from * size, (from + n) * size);
  };
  for (const p of predictors) for (let i = 0; i < WARMUP_RUNS; i++) await p.predict(sample(i), n, set.sampleShape);
  const times = predictors.map(() => [] as number[]);
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < predictors.length; k++) {
      const which = (round + k) % predictors.length;
      const started = process.hrtime.bigint();
      await predictors[which]!.predict(sample(round), n, set.sampleShape);
      times[which]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return times.map((t) => {
    const sorted = [...t].sort((a, b) => a - b);
    return { median: quantile(sorted, 0.5), q1: quantile(sorted, 0.25), q3: quantile(sorted, 0.75), runs };
  });
}
