/**
 * How a calibration method turns a tensor's observed values into the range its int8 grid covers: one observer per
 * tensor sees every calibration batch (bounded memory, deterministic for the same batches in the same order), then
 * reports the range. The calibration methods (CALIBRATION_METHODS in activation-calibration.ts) are these:
 * - `MinMaxObserver`: the observed extremes (TF's converter and onnxruntime's default);
 * - `PercentileObserver`: per-batch quantiles, averaged (clips rare outliers);
 * - `EntropyObserver`: a histogram of the values; the range whose int8 rounding loses the least information (the
 *   smallest KL divergence between the clipped histogram and its 256-level quantisation: TensorRT's and
 *   onnxruntime's entropy calibrator), among the ranges whose squared error is no worse than the whole range's.
 */
import type { ActivationRange } from './ir.ts';

/** Collects one tensor's statistics batch by batch, then reports the range its quantisation should cover. */
export interface RangeObserver {
  observe(values: Float32Array): void;
  range(): ActivationRange;
}

function extremes(values: Float32Array, start: ActivationRange = { min: Infinity, max: -Infinity }): ActivationRange {
  let { min, max } = start;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return { min, max };
}

export class MinMaxObserver implements RangeObserver {
  private seen: ActivationRange = { min: Infinity, max: -Infinity };
  observe(values: Float32Array): void {
    this.seen = extremes(values, this.seen);
  }
  range(): ActivationRange {
    return { ...this.seen };
  }
}

/**
 * The `percentile`% and (100 − `percentile`)% quantiles of each batch (of at most 2^20 evenly strided values),
 * averaged over batches weighted by their size: the range clips the rare outliers a min/max would stretch the int8
 * grid over (onnxruntime's percentile calibrator, in a bounded-memory, deterministic form).
 */
export class PercentileObserver implements RangeObserver {
  private lo = 0;
  private hi = 0;
  private weight = 0;
  constructor(private readonly percentile: number) {}
  observe(values: Float32Array): void {
    if (values.length === 0) return;
    const stride = Math.max(1, Math.ceil(values.length / 2 ** 20));
    const sample = new Float32Array(Math.ceil(values.length / stride));
    for (let i = 0, j = 0; i < values.length; i += stride, j++) sample[j] = values[i]!;
    sample.sort();
    const at = (q: number) => sample[Math.min(sample.length - 1, Math.max(0, Math.round(q * (sample.length - 1))))]!;
    const p = this.percentile / 100;
    this.lo += at(1 - p) * values.length;
    this.hi += at(p) * values.length;
    this.weight += values.length;
  }
  range(): ActivationRange {
    return this.weight === 0 ? { min: 0, max: 0 } : { min: this.lo / this.weight, max: this.hi / this.weight };
  }
}

/** Histogram bins over the observed range, and the int8 grid's levels the candidates are quantised to. */
const HISTOGRAM_BINS = 2048;
const INT8_LEVELS = 256;
/** Candidate ranges tried: the observed range scaled towards 0 by k / CANDIDATES, while they span ≥ INT8_LEVELS bins. */
const CANDIDATES = 128;

/**
 * Entropy (KL) calibration. The values go into a fixed-size histogram over the observed range widened to hold 0
 * (the grid always holds 0 exactly, so exact zeros — half of a ReLU's outputs — lose nothing and are left out: at
 * histogram resolution their spike would be smeared over a whole level and drag the range towards 0); when a later batch goes beyond it, the range grows and the counts are re-binned
 * (each old bin's count to the new bin holding its centre). Candidates are that range scaled towards 0; for each,
 * P = the histogram inside it with the clipped counts folded into its end bins, Q = the same bins (without the
 * outliers) merged into 256 levels and spread back evenly over each level's non-empty bins; the range with the
 * smallest KL(P‖Q) wins. A distribution with a long, thin tail gets a range that clips it; a compact one keeps all.
 */
export class EntropyObserver implements RangeObserver {
  private counts = new Float64Array(HISTOGRAM_BINS);
  private lo = 0;
  private hi = 0;
  private total = 0;

  observe(values: Float32Array): void {
    if (values.length === 0) return;
    const seen = extremes(values);
    if (!Number.isFinite(seen.min) || !Number.isFinite(seen.max)) return;
    const lo = Math.min(this.lo, seen.min, 0);
    const hi = Math.max(this.hi, seen.max, 0);
    if (lo < this.lo || hi > this.hi) this.rebin(lo, hi);
    if (this.hi === this.lo) return; // only zeros so far
    const perBin = HISTOGRAM_BINS / (this.hi - this.lo);
    const counts = this.counts;
    for (const v of values) {
      if (v === 0) continue;
      counts[Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor((v - this.lo) * perBin)))]! += 1;
      this.total += 1;
    }
  }

  private rebin(lo: number, hi: number): void {
    const old = this.counts;
    const oldWidth = (this.hi - this.lo) / HISTOGRAM_BINS;
    this.counts = new Float64Array(HISTOGRAM_BINS);
    const perBin = HISTOGRAM_BINS / (hi - lo);
    for (let i = 0; i < HISTOGRAM_BINS; i++) {
      if (old[i] === 0) continue;
      const centre = this.lo + (i + 0.5) * oldWidth;
      this.counts[Math.min(HISTOGRAM_BINS - 1, Math.max(0, Math.floor((centre - lo) * perBin)))]! += old[i]!;
    }
    this.lo = lo;
    this.hi = hi;
  }

  range(): ActivationRange {
    if (this.total === 0 || this.hi === this.lo) return { min: this.lo, max: this.hi };
    const zero = (-this.lo / (this.hi - this.lo)) * HISTOGRAM_BINS;
    let best = { k: CANDIDATES, divergence: Infinity };
    const fullError = squaredError(this.counts, 0, HISTOGRAM_BINS);
    for (let k = 1; k <= CANDIDATES; k++) {
      const t = k / CANDIDATES;
      const start = Math.max(0, Math.floor(zero * (1 - t)));
      const end = Math.min(HISTOGRAM_BINS, Math.ceil(zero + (HISTOGRAM_BINS - zero) * t));
      if (end - start < INT8_LEVELS) continue; // finer than the histogram: its rounding loss is not visible here
      // KL sees which values become indistinguishable, not how far a clipped value moves: a clip that costs more
      // squared error than the whole range's rounding is never taken (a constant background through a conv — a
      // spike KL cannot place within a level — otherwise drags the range to a fraction of the strokes' values).
      if (squaredError(this.counts, start, end) > fullError) continue;
      const divergence = klOfClipping(this.counts, start, end);
      if (divergence < best.divergence) best = { k, divergence };
    }
    const t = best.k / CANDIDATES;
    return { min: this.lo * t, max: this.hi * t };
  }
}

/**
 * Expected squared error, in squared bins, of int8 over the bins [start, end) (256 levels): rounding (a level's
 * width² / 12 per value inside) plus clipping (each outside bin's distance to the nearer end, squared).
 */
function squaredError(counts: Float64Array, start: number, end: number): number {
  const level = (end - start) / (INT8_LEVELS - 1);
  let error = 0;
  for (let i = 0; i < counts.length; i++) {
    const c = counts[i]!;
    if (c === 0) continue;
    const centre = i + 0.5;
    const outside = centre < start ? start - centre : centre > end ? centre - end : 0;
    error += c * (outside > 0 ? outside * outside : (level * level) / 12);
  }
  return error;
}

/** KL(P‖Q) for the bins [start, end): P with the outside counts folded into its ends, Q its 256-level rounding. */
function klOfClipping(counts: Float64Array, start: number, end: number): number {
  const n = end - start;
  const p = counts.slice(start, end);
  const q = new Float64Array(n);
  const levels = Math.min(INT8_LEVELS, n);
  for (let level = 0; level < levels; level++) {
    const from = Math.floor((level * n) / levels);
    const to = Math.floor(((level + 1) * n) / levels);
    let sum = 0;
    let nonEmpty = 0;
    for (let i = from; i < to; i++) {
      sum += p[i]!;
      if (p[i]! > 0) nonEmpty++;
    }
    for (let i = from; i < to; i++) if (p[i]! > 0) q[i] = sum / nonEmpty;
  }
  for (let i = 0; i < start; i++) p[0]! += counts[i]!;
  for (let i = end; i < counts.length; i++) p[n - 1]! += counts[i]!;
  return divergence(p, q);
}

/** KL divergence of two histograms, each normalised, empty bins smoothed to ε (onnxruntime's smooth_distribution). */
function divergence(p: Float64Array, q: Float64Array): number {
  const eps = 1e-4;
  const stats = (h: Float64Array) => {
    let sum = 0;
    let zeros = 0;
    for (const v of h) {
      sum += v;
      if (v === 0) zeros++;
    }
    return { sum, take: zeros === h.length ? 0 : (eps * zeros) / (h.length - zeros) };
  };
  const sp = stats(p);
  const sq = stats(q);
  const smoothed = (v: number, s: { sum: number; take: number }) => (v === 0 ? eps : Math.max(eps, v / s.sum - s.take));
  let pn = 0;
  let qn = 0;
  for (let i = 0; i < p.length; i++) {
    pn += smoothed(p[i]!, sp);
    qn += smoothed(q[i]!, sq);
  }
  let kl = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = smoothed(p[i]!, sp) / pn;
    kl += pi * Math.log(pi / (smoothed(q[i]!, sq) / qn));
  }
  return kl;
}
