/**
 * The TF.js weights manifest: byte layout of one weight, float32/int32 decoding, and the quantised formats
 * stock tfjs understands (`quantization: {dtype: 'uint8'|'uint16', scale, min}` affine, or `{dtype: 'float16'}`).
 * Decoding reproduces tfjs-core's `decodeWeights` bit for bit, so what slimnet measures is what tfjs loads.
 */

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

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);
/** Largest finite float16; larger magnitudes are clamped to it (tfjs decodes float16 infinities as 65536). */
const FLOAT16_MAX_BITS = 0x7bff;

/** float32 -> IEEE float16 bits, round to nearest even (numpy's astype(np.float16)). */
export function float32ToFloat16Bits(values: Float32Array): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    f32[0] = values[i];
    const x = f32Bits[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    const mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = mant ? sign | 0x7e00 : sign | FLOAT16_MAX_BITS;
      continue;
    }
    const e = exp - 127 + 15;
    let half: number;
    if (e >= 0x1f) {
      half = FLOAT16_MAX_BITS;
    } else if (e <= 0) {
      // Subnormal half (or zero): shift the full significand (implicit 1 included) into 10 bits.
      if (e < -10) {
        half = 0;
      } else {
        const full = mant | 0x800000;
        const shift = 14 - e;
        half = full >>> shift;
        const rem = full & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rem > halfway || (rem === halfway && half & 1)) half++;
      }
    } else {
      half = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      // A carry out of the mantissa correctly bumps the exponent.
      if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
      if (half > FLOAT16_MAX_BITS) half = FLOAT16_MAX_BITS;
    }
    out[i] = sign | half;
  }
  return out;
}

let float16Tables: { mantissa: Uint32Array; exponent: Uint32Array; offset: Uint32Array } | undefined;

/** Table-driven float16 -> float32 (the fast-half-float method tfjs-core uses), so results match tfjs exactly. */
export function float16BitsToFloat32(bits: Uint16Array): Float32Array {
  if (!float16Tables) {
    const mantissa = new Uint32Array(2048);
    for (let i = 1; i < 1024; i++) {
      // Normalise a subnormal half's mantissa into a float32 exponent/mantissa pair.
      let m = i << 13;
      let e = 0;
      while ((m & 0x00800000) === 0) {
        e -= 0x00800000;
        m <<= 1;
      }
      mantissa[i] = (m & ~0x00800000) | (e + 0x38800000);
    }
    for (let i = 1024; i < 2048; i++) mantissa[i] = 0x38000000 + ((i - 1024) << 13);
    const exponent = new Uint32Array(64);
    for (let i = 1; i < 31; i++) exponent[i] = i << 23;
    for (let i = 33; i < 63; i++) exponent[i] = 0x80000000 + ((i - 32) << 23);
    exponent[31] = 0x47800000;
    exponent[32] = 0x80000000;
    exponent[63] = 0xc7800000;
    const offset = new Uint32Array(64).fill(1024);
    offset[0] = 0;
    offset[32] = 0;
    float16Tables = { mantissa, exponent, offset };
  }
  const { mantissa, exponent, offset } = float16Tables;
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) {
    const h = bits[i];
    out[i] = mantissa[offset[h >> 10] + (h & 0x3ff)] + exponent[h >> 10];
  }
  return new Float32Array(out.buffer);
}
