/**
 * The TF.js weights manifest: byte layout of one weight, float32/int32 decoding, and the quantised formats
 * stock tfjs understands (`quantization: {dtype: 'uint8'|'uint16', scale, min}` affine, or `{dtype: 'float16'}`).
 * Decoding reproduces tfjs-core's `decodeWeights` bit for bit, so what slimnet measures is what tfjs loads.
 */

import { exactAffineEncoding } from './exact-encoding.ts';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16.ts';

export { float16BitsToFloat32, float32ToFloat16Bits };

export type QuantizationDtype = 'uint8' | 'uint16' | 'float16';

export interface WeightQuantization {
  dtype: QuantizationDtype;
  /** Affine formats only: value = q * scale + min. */
  scale?: number;
  min?: number;
}

/** One entry of a manifest group's `weights` (tfjs-core's WeightsManifestEntry). */
export interface ManifestEntry {
  name: string;
  shape: number[];
  dtype: string;
  group?: string;
  quantization?: WeightQuantization;
}

export interface ManifestGroup {
  paths: string[];
  weights: ManifestEntry[];
}

const QUANTIZED_BYTES: Record<QuantizationDtype, number> = { uint8: 1, uint16: 2, float16: 2 };
const PLAIN_BYTES: Record<string, number> = { float32: 4, int32: 4 };

export function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function isQuantizationDtype(d: unknown): d is QuantizationDtype {
  return d === 'uint8' || d === 'uint16' || d === 'float16';
}

/**
 * Bytes the entry occupies in the concatenated shard data, or a reason it cannot be decoded
 * (the caller turns that into a SlimnetError naming the weight).
 */
export function entryByteLength(entry: ManifestEntry): number | string {
  const n = elementCount(entry.shape);
  if (entry.quantization) {
    const q = entry.quantization;
    if (!isQuantizationDtype(q.dtype)) return `unknown quantization dtype "${String(q.dtype)}"`;
    if (q.dtype !== 'float16' && (typeof q.scale !== 'number' || typeof q.min !== 'number')) {
      return `${q.dtype} quantization needs numeric "scale" and "min"`;
    }
    if (entry.dtype !== 'float32' && !(entry.dtype === 'int32' && q.dtype !== 'float16')) {
      return `${q.dtype} quantization of ${entry.dtype} weights is not supported`;
    }
    return n * QUANTIZED_BYTES[q.dtype];
  }
  const size = PLAIN_BYTES[entry.dtype];
  if (size === undefined) return `dtype "${entry.dtype}" is not supported (float32 and int32 are)`;
  return n * size;
}

/** Decodes one weight's bytes (exactly entryByteLength(entry) of them) to float32, as tfjs would. */
export function decodeEntry(entry: ManifestEntry, bytes: Uint8Array): Float32Array {
  // Copy so the typed-array views below are aligned, whatever the weight's offset in the shard.
  const buf = bytes.slice().buffer;
  const q = entry.quantization;
  if (!q) {
    if (entry.dtype === 'int32') return Float32Array.from(new Int32Array(buf));
    return new Float32Array(buf);
  }
  if (q.dtype === 'float16') return float16BitsToFloat32(new Uint16Array(buf));
  const raw = q.dtype === 'uint8' ? new Uint8Array(buf) : new Uint16Array(buf);
  const out = new Float32Array(raw.length);
  const scale = q.scale as number;
  const min = q.min as number;
  // tfjs rounds dequantised int32 weights back to integers.
  const round = entry.dtype === 'int32';
  for (let i = 0; i < raw.length; i++) {
    const v = raw[i] * scale + min;
    out[i] = round ? Math.round(v) : v;
  }
  return out;
}

/** Encodes float32 values as manifest bytes: plain float32, or quantised like tensorflowjs_converter does. */
export function encodeValues(
  values: Float32Array,
  dtype?: QuantizationDtype,
): { bytes: Uint8Array; quantization?: WeightQuantization } {
  if (!dtype) return { bytes: new Uint8Array(values.slice().buffer) };
  // Values already on a grid of this format (e.g. dequantised by an earlier stage) keep it, so encoding is
  // idempotent: re-encoding what tfjs decoded ships exactly the same values.
  const exact = dtype === 'float16' ? undefined : exactAffineEncoding(values, dtype);
  if (exact) return exact;
  if (dtype === 'float16') {
    return { bytes: new Uint8Array(float32ToFloat16Bits(values).buffer), quantization: { dtype } };
  }
  const { q, scale, min } = quantizeAffine(values, dtype);
  return { bytes: new Uint8Array(q.buffer), quantization: { dtype, scale, min } };
}

/** What stock tfjs will see after `values` are written with `dtype`: decode(encode(values)). */
export function roundTripValues(values: Float32Array, dtype?: QuantizationDtype): Float32Array {
  const { bytes, quantization } = encodeValues(values, dtype);
  return decodeEntry({ name: '', shape: [values.length], dtype: 'float32', quantization }, bytes);
}

/** Round half to even, like numpy's np.round. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Per-tensor affine quantisation as in tensorflowjs_converter (quantization.py): scale = (max-min)/qmax over
 * the tensor's range, with the range nudged so that 0.0 is exactly representable when it lies inside it
 * (zero padding and pruned weights stay exactly zero). A constant tensor becomes all zeros with min = value.
 */
export function quantizeAffine(
  values: Float32Array,
  dtype: 'uint8' | 'uint16',
): { q: Uint8Array | Uint16Array; scale: number; min: number } {
  const qmax = dtype === 'uint8' ? 255 : 65535;
  const q = dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
  let min = Infinity;
  let max = -Infinity;
  for (const v of values) {
    if (Number.isNaN(v)) throw new Error('cannot quantise a weight holding NaN');
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (values.length === 0) return { q, scale: 1, min: 0 };
  if (min === max) return { q, scale: 1, min };
  const scale = (max - min) / qmax;
  let lo = min;
  let hi = max;
  if (min <= 0 && max >= 0) {
    const zeroPoint = roundHalfEven(-min / scale);
    lo = -zeroPoint * scale;
    hi = qmax * scale + lo;
  }
  for (let i = 0; i < values.length; i++) {
    const clipped = Math.min(hi, Math.max(lo, values[i]));
    q[i] = Math.min(qmax, Math.max(0, roundHalfEven((clipped - lo) / scale)));
  }
  return { q, scale, min: lo };
}
