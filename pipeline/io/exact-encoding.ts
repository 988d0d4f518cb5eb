/**
 * Finding a tfjs weight encoding that reproduces given float32 values *exactly*.
 *
 * Why: a quantise stage evaluates the dequantised weights (what stock tfjs will load) and hands them on in the
 * IR. Writing those values again with the converter's formula re-derives scale/min from float32-rounded
 * extremes and can move values by an ulp, so the shipped model would no longer be the measured one. Instead we
 * recover the grid the values already lie on (codes, scale, min) and verify it by decoding exactly as tfjs does.
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';
import type { QuantizationDtype, WeightQuantization } from './weights.ts';

const f32 = new Float32Array(1);
const bits = new Uint32Array(f32.buffer);

/** The float32 neighbour of `v` (finite, non-zero-crossing cases only matter here). */
function nextFloat32(v: number, up: boolean): number {
  f32[0] = v;
  if (v === 0) {
    bits[0] = 1;
    return up ? f32[0] : -f32[0];
  }
  bits[0] += (v > 0) === up ? 1 : -1;
  return f32[0];
}

/**
 * The reals that round to float32 `v`, ends included: values landing exactly on a rounding tie are common
 * here (code·(max-min)/qmax often has few significant bits), so the ends must stay candidates.
 */
function roundingInterval(v: number): [number, number] {
  return [(v + nextFloat32(v, false)) / 2, (v + nextFloat32(v, true)) / 2];
}

/**
 * An encoding of `values` as `dtype` whose tfjs decoding equals `values` bit for bit, or undefined when the
 * values do not lie on such a grid (then the caller quantises them afresh).
 */
export function exactEncoding(values: Float32Array, dtype: QuantizationDtype): { bytes: Uint8Array; quantization: WeightQuantization } | undefined {
  if (dtype !== 'float16') return exactAffineEncoding(values, dtype);
  const h = float32ToFloat16Bits(values);
  const back = float16BitsToFloat32(h);
  for (let i = 0; i < values.length; i++) if (!Object.is(back[i], values[i])) return undefined;
  return { bytes: new Uint8Array(h.buffer), quantization: { dtype } };
}

/** exactEncoding for the affine formats (the grid search proper). */
export function exactAffineEncoding(values: Float32Array, dtype: 'uint8' | 'uint16'): { bytes: Uint8Array; quantization: WeightQuantization } | undefined {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const distinct = new Set<number>();
  for (const v of values) {
    if (!Number.isFinite(v)) return undefined;
    distinct.add(v);
    if (distinct.size > qmax + 1) return undefined;
  }
  const sorted = Float64Array.from(distinct).sort();
  if (sorted.length === 0) return undefined;
  const min = sorted[0];
  const max = sorted[sorted.length - 1];
  const candidates: Array<{ scale: number; min: number }> = [];
  if (sorted.length === 1) candidates.push({ scale: 1, min });
  else {
    const approxScale = (max - min) / qmax;
    const codes = Array.from(sorted, (v) => Math.round((v - min) / approxScale));
    // Affine grid anchored at min (ranges not containing zero), or nudged so that code zp decodes to 0.0.
    const zp = Math.round(-min / approxScale);
    for (const offset of [0, zp]) {
      for (const scale of solveScale(sorted, codes, offset, offset === 0 ? min : 0)) {
        candidates.push({ scale, min: offset === 0 ? min : -offset * scale });
      }
    }
  }
  for (const c of candidates) {
    const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
    let ok = true;
    for (let i = 0; i < values.length && ok; i++) {
      const code = Math.round((values[i] - c.min) / c.scale);
      if (code < 0 || code > qmax) ok = false;
      q[i] = code;
    }
    if (!ok) continue;
    // Verify by decoding exactly as tfjs does (float64 q·scale + min, stored as float32). === rather than
    // Object.is: tfjs decodes the zero code as +0, and a -0 weight behaves the same.
    let exact = true;
    for (let i = 0; i < values.length && exact; i++) exact = Math.fround(q[i] * c.scale + c.min) === values[i];
    if (exact) return { bytes: new Uint8Array(q.buffer), quantization: { dtype, scale: c.scale, min: c.min } };
  }
  return undefined;
}

/**
 * Scales s with f32((code - offset)·s + base) = value for every (value, code): the middle of the intersection
 * of the per-value intervals, then its ends (ties round to even, so the true scale may sit on an end).
 * Empty when the intervals do not intersect. Candidates are verified by the caller.
 */
function solveScale(values: Float64Array, codes: number[], offset: number, base: number): number[] {
  let lo = -Infinity;
  let hi = Infinity;
  for (let i = 0; i < values.length; i++) {
    const a = codes[i] - offset;
    const [vLo, vHi] = roundingInterval(values[i]);
    if (a === 0) {
      if (!(base >= vLo && base <= vHi)) return [];
      continue;
    }
    const s1 = (vLo - base) / a;
    const s2 = (vHi - base) / a;
    lo = Math.max(lo, Math.min(s1, s2));
    hi = Math.min(hi, Math.max(s1, s2));
  }
  if (!(lo <= hi) || !(hi > 0) || !Number.isFinite(lo) || !Number.isFinite(hi)) return [];
  return [(lo + hi) / 2, lo, hi].filter((s) => s > 0);
}
