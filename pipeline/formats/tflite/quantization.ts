/**
 * The int8 arithmetic of a full-integer TFLite model, as TFLite's kernels expect it:
 * - activations: asymmetric int8 per tensor, real = scale · (q − zeroPoint), the range widened to contain 0 so that
 *   0 is exact (padding and ReLU rely on it);
 * - weights: symmetric int8 in [−127, 127] (zero point 0), one scale per output channel;
 * - biases: int32 with scale = input scale × weight scale of the channel, zero point 0.
 * Scales are rounded to float32 here, once, because that is what the file stores and what the kernels check.
 */
import type { ActivationRange } from '../../ir.ts';

export interface ActivationQuant {
  scale: number;
  zeroPoint: number;
}

const QMIN = -128;
const QMAX = 127;
/** Narrow range for weights, as TF's quantiser: symmetric around 0, so −128 is never used. */
const WEIGHT_QMAX = 127;
const INT32_MAX = 2 ** 31 - 1;

/** Asymmetric int8 parameters covering [min, max] ∪ {0}. */
export function activationQuant(range: ActivationRange): ActivationQuant {
  if (!Number.isFinite(range.min) || !Number.isFinite(range.max) || range.min > range.max) {
    throw new Error(`invalid activation range [${range.min}, ${range.max}]`);
  }
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  // A tensor that was always 0 still needs a positive scale; any will do.
  const scale = Math.fround(max > min ? (max - min) / (QMAX - QMIN) : 1 / 255);
  const zeroPoint = Math.min(QMAX, Math.max(QMIN, Math.round(QMIN - min / scale)));
  return { scale, zeroPoint };
}

export function quantizeValue(x: number, q: ActivationQuant): number {
  return Math.min(QMAX, Math.max(QMIN, Math.round(x / q.scale) + q.zeroPoint));
}

export function sameQuant(a: ActivationQuant | undefined, b: ActivationQuant | undefined): boolean {
  return !!a && !!b && a.scale === b.scale && a.zeroPoint === b.zeroPoint;
}

export interface PerChannelWeights {
  values: Int8Array;
  /** One float32 scale per slice along the channel axis. */
  scales: number[];
}

/**
 * Symmetric per-channel int8 of `values` (row-major `shape`), one scale per index of `axis`. An all-zero channel
 * gets scale 1 (TFLite needs a positive scale; its values are 0 whatever the scale).
 */
export function quantizePerChannel(values: Float32Array, shape: number[], axis: number): PerChannelWeights {
  const channels = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float64Array(channels);
  for (let i = 0; i < values.length; i++) {
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c]!, Math.abs(values[i]!));
  }
  const scales = Array.from(maxAbs, (m) => Math.fround(m > 0 ? m / WEIGHT_QMAX : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = Math.round(values[i]! / scales[channelOf(i)]!);
    q[i] = Math.max(-WEIGHT_QMAX, Math.min(WEIGHT_QMAX, v));
  }
  return { values: q, scales };
}

/** Symmetric per-tensor int8 (one scale for all values). */
export function quantizePerTensor(values: Float32Array): PerChannelWeights {
  return quantizePerChannel(values, [1, values.length], 0);
}

/**
 * The int32 bias of an op whose input has scale `inputScale` and whose weights have one scale per output channel
 * (or one for all): bias scale = input scale × weight scale, with as many scales as the weights have.
 */
export function quantizeBias(bias: Float32Array, inputScale: number, weightScales: number[]): { values: Int32Array; scales: number[] } {
  const scales = weightScales.map((s) => Math.fround(inputScale * s));
  const values = new Int32Array(bias.length);
  for (let c = 0; c < bias.length; c++) {
    const q = Math.round(bias[c]! / scales[scales.length > 1 ? c : 0]!);
    values[c] = Math.max(-INT32_MAX, Math.min(INT32_MAX, q));
  }
  return { values, scales };
}
