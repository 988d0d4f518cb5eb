/**
 * Weight storage: how a weight ships (pipeline/ir.ts, WeightIR.storage) and the one place that encodes, decodes,
 * re-encodes and slices it. The invariant every function here keeps: a weight's `values` are exactly what decoding
 * its stored codes gives, so what slimnet measures is what ships.
 *
 * Stages that compute new values for a weight call `withValues`, which re-encodes them in the weight's existing
 * storage (a uint8 weight stays uint8, an int8 per-channel weight keeps its axis and symmetry) and hands back the
 * decoded values the model will really compute with. `quantizeWeight` puts a weight into a storage on purpose.
 */
import { float16BitsToFloat32, float32ToFloat16Bits } from './io/float16.ts';
import { encodeValues } from './io/weights.ts';
import type { AffineStorage, Int8Storage, LayerIR, ModelIR, TfjsShipping, WeightIR, WeightStorage } from './ir.ts';

/** A storage to put a weight into: the format without its codes and scales, which are computed. */
export type StorageSpec =
  | { dtype: 'float32' }
  | { dtype: 'float16' }
  | { dtype: 'uint8' | 'uint16' }
  /**
   * Linear int8: symmetric (zero points 0, codes −127..127) or affine (−128..127); per tensor, or per slice along
   * `axis`. `reduceRange` (symmetric only): codes −63..63, 7 bits — what onnxruntime's u8s8 integer kernels need on
   * x86 without VNNI, whose int16 sums of two u8×s8 products overflow with 8-bit weights (onnxruntime's reduce_range).
   */
  | { dtype: 'int8'; axis?: number; symmetric: boolean; tfjs?: TfjsShipping; onnx?: 'cast-mul'; reduceRange?: boolean };

export type StorageDtype = StorageSpec['dtype'];

const BYTES: Record<StorageDtype, number> = { float32: 4, float16: 2, uint8: 1, uint16: 2, int8: 1 };

export function storageDtype(w: WeightIR): StorageDtype {
  return w.storage?.dtype ?? 'float32';
}

/** Bytes of the stored codes (scales and zero points not counted). */
export function storedBytes(w: WeightIR): number {
  return w.values.length * BYTES[storageDtype(w)];
}

/** The storage a weight is in, as a spec `quantizeWeight`/`withValues` can re-apply. */
export function storageSpec(w: WeightIR): StorageSpec {
  const s = w.storage;
  if (!s) return { dtype: 'float32' };
  if (s.dtype === 'int8') {
    return { dtype: 'int8', ...(s.axis === undefined ? {} : { axis: s.axis }), symmetric: s.zeroPoints.every((z) => z === 0), ...(s.tfjs ? { tfjs: s.tfjs } : {}), ...(s.onnx ? { onnx: s.onnx } : {}) };
  }
  return { dtype: s.dtype };
}

/** One line for logs and reports: `float32`, `uint8`, `int8 symmetric per-channel (axis 3)`. */
export function describeStorage(spec: StorageSpec): string {
  if (spec.dtype !== 'int8') return spec.dtype;
  return `int8 ${spec.symmetric ? 'symmetric' : 'affine'} ${spec.axis === undefined ? 'per-tensor' : `per-channel (axis ${spec.axis})`}${spec.tfjs ? ` (tfjs: ${spec.tfjs})` : ''}`;
}

/** Elements between consecutive indices of `axis`, and the axis length: element i lies in slice ⌊i / inner⌋ mod n. */
function axisStride(shape: number[], axis: number): { inner: number; n: number } {
  return { inner: shape.slice(axis + 1).reduce((a, b) => a * b, 1), n: shape[axis]! };
}

/** The float32 values the stored codes stand for (bit for bit what tfjs, onnxruntime and TFLite decode). */
export function decodeStorage(storage: WeightStorage, shape: number[]): Float32Array {
  switch (storage.dtype) {
    case 'float16':
      return float16BitsToFloat32(storage.codes);
    case 'uint8':
    case 'uint16': {
      const { codes, scale, min } = storage;
      // tfjs-core decodeWeights: q·scale + min in float64, stored as float32.
      return Float32Array.from(codes, (q) => q * scale + min);
    }
    case 'int8': {
      const { codes, scales, zeroPoints } = storage;
      const out = new Float32Array(codes.length);
      if (storage.axis === undefined) {
        const [s, z] = [scales[0]!, zeroPoints[0]!];
        for (let i = 0; i < codes.length; i++) out[i] = (codes[i]! - z) * s;
        return out;
      }
      const { inner, n } = axisStride(shape, storage.axis);
      for (let i = 0; i < codes.length; i++) {
        const c = Math.floor(i / inner) % n;
        // (q − z)·s is exact in float64 (≤ 9 × 24 bits), so one rounding to float32: DequantizeLinear's result.
        out[i] = (codes[i]! - zeroPoints[c]!) * scales[c]!;
      }
      return out;
    }
  }
}

/** Throws (a slimnet bug, not a user error) if `w.values` are not exactly its storage's decoding. */
export function checkStorage(w: WeightIR, where: string): void {
  const s = w.storage;
  if (!s) return;
  if (s.codes.length !== w.values.length) throw new Error(`${where}: ${s.codes.length} stored codes for ${w.values.length} values`);
  const decoded = decodeStorage(s, w.shape);
  for (let i = 0; i < decoded.length; i++) {
    // === not Object.is: a -0 value and the +0 a zero code decodes to compute the same.
    if (decoded[i] !== w.values[i] && !(Number.isNaN(decoded[i]) && Number.isNaN(w.values[i]))) {
      throw new Error(`${where}: values[${i}] = ${w.values[i]} but its ${s.dtype} storage decodes to ${decoded[i]}: ` +
        'a stage changed values without re-encoding them (use withValues from pipeline/weight-storage.ts)');
    }
  }
}

/** Round half to even (numpy's rint, onnxruntime's quantiser). */
function rint(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

/** int8 codes, scales and zero points for `values` under `spec` (scales from each slice's range). */
function quantizeInt8(values: Float32Array, shape: number[], spec: Extract<StorageSpec, { dtype: 'int8' }>): Int8Storage {
  if (spec.axis !== undefined && (!Number.isInteger(spec.axis) || spec.axis < 0 || spec.axis >= shape.length)) {
    throw new Error(`int8 axis ${spec.axis} is outside the weight's ${shape.length} axes`);
  }
  const { inner, n } = spec.axis === undefined ? { inner: values.length, n: 1 } : axisStride(shape, spec.axis);
  const lo = new Float64Array(n).fill(0);
  const hi = new Float64Array(n).fill(0);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isFinite(v)) throw new Error(`cannot quantise a weight holding ${v}`);
    const c = Math.floor(i / inner) % n;
    if (v < lo[c]!) lo[c] = v;
    if (v > hi[c]!) hi[c] = v;
  }
  const qmax = spec.symmetric && spec.reduceRange ? 63 : 127;
  const scales: number[] = [];
  const zeroPoints: number[] = [];
  for (let c = 0; c < n; c++) {
    // The range always holds 0, so zero (padding, pruned weights) is exactly representable.
    const range = spec.symmetric ? Math.max(-lo[c]!, hi[c]!) / qmax : (hi[c]! - lo[c]!) / 255;
    const s = range > 0 ? Math.fround(range) : 1;
    scales.push(s);
    zeroPoints.push(spec.symmetric ? 0 : clamp(rint(-128 - lo[c]! / s), -128, 127));
  }
  const qmin = spec.symmetric ? -qmax : -128;
  const codes = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % n;
    codes[i] = clamp(rint(values[i]! / scales[c]!) + zeroPoints[c]!, qmin, qmax);
  }
  return { dtype: 'int8', ...(spec.axis === undefined ? {} : { axis: spec.axis }), scales, zeroPoints, codes, ...(spec.tfjs ? { tfjs: spec.tfjs } : {}), ...(spec.onnx && spec.symmetric ? { onnx: spec.onnx } : {}) };
}

/** Encodes `values` (of `shape`) under `spec`. */
function encode(values: Float32Array, shape: number[], spec: StorageSpec): WeightStorage | undefined {
  switch (spec.dtype) {
    case 'float32':
      return undefined;
    case 'float16':
      return { dtype: 'float16', codes: float32ToFloat16Bits(values) };
    case 'uint8':
    case 'uint16': {
      // The converter's per-tensor formula, or the grid the values already lie on (re-encoding is idempotent).
      const { bytes, quantization } = encodeValues(values, spec.dtype);
      const codes = spec.dtype === 'uint8' ? new Uint8Array(bytes) : new Uint16Array(bytes.slice().buffer);
      return { dtype: spec.dtype, scale: quantization!.scale!, min: quantization!.min!, codes } as AffineStorage;
    }
    case 'int8':
      return quantizeInt8(values, shape, spec);
  }
}

/** `w` stored as `spec`: codes computed from its values, values replaced by what the codes decode to. */
export function quantizeWeight(w: WeightIR, spec: StorageSpec): WeightIR {
  return build(w.name, [...w.shape], w.values, spec);
}

function build(name: string, shape: number[], values: Float32Array, spec: StorageSpec): WeightIR {
  if (values.length !== shape.reduce((a, b) => a * b, 1)) throw new Error(`weight ${name}: ${values.length} values for shape [${shape}]`);
  const storage = encode(values, shape, spec);
  if (!storage) return { name, shape, values: values.slice() };
  return { name, shape, values: decodeStorage(storage, shape), storage };
}

/**
 * The one helper for stages that compute new values for a weight: `values` (of `shape`, default the weight's)
 * re-encoded in the weight's existing storage. The result's values are what ships, which may differ from `values` by
 * the storage's rounding: measure the result, not the input.
 */
export function withValues(w: WeightIR, values: Float32Array, shape: number[] = w.shape): WeightIR {
  const sameGrid = w.storage && shape.join() === w.shape.join() ? onGrid(w.storage, values, shape) : undefined;
  if (sameGrid) return { name: w.name, shape: [...shape], ...sameGrid };
  return build(w.name, [...shape], values, storageSpec(w));
}

/**
 * `values` in `storage`'s own scales and zero points, if every value is exactly one of its codes' decodings (values
 * that did not change, or moved along the grid): then the weight keeps its parameters, and its bytes stay the same.
 */
function onGrid(storage: WeightStorage, values: Float32Array, shape: number[]): { values: Float32Array; storage: WeightStorage } | undefined {
  let candidate: WeightStorage;
  switch (storage.dtype) {
    case 'float16':
      candidate = { dtype: 'float16', codes: float32ToFloat16Bits(values) };
      break;
    case 'uint8':
    case 'uint16': {
      const qmax = storage.dtype === 'uint8' ? 255 : 65535;
      const codes = storage.dtype === 'uint8' ? new Uint8Array(values.length) : new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const q = Math.round((values[i]! - storage.min) / storage.scale);
        if (!(q >= 0 && q <= qmax)) return undefined;
        codes[i] = q;
      }
      candidate = { ...storage, codes } as AffineStorage;
      break;
    }
    case 'int8': {
      const { inner, n } = storage.axis === undefined ? { inner: values.length, n: 1 } : axisStride(shape, storage.axis);
      const codes = new Int8Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const c = Math.floor(i / inner) % n;
        const q = Math.round(values[i]! / storage.scales[c]!) + storage.zeroPoints[c]!;
        if (!(q >= -128 && q <= 127)) return undefined;
        codes[i] = q;
      }
      candidate = { ...storage, scales: [...storage.scales], zeroPoints: [...storage.zeroPoints], codes };
      break;
    }
  }
  const decoded = decodeStorage(candidate, shape);
  for (let i = 0; i < values.length; i++) if (decoded[i] !== values[i]) return undefined;
  return { values: decoded, storage: candidate };
}

type Codes = Float32Array | Uint8Array | Uint16Array | Int8Array;

/** Keeps the indices `keep` of `axis` of a row-major array of `shape`. */
function sliceArray<T extends Codes>(a: T, shape: number[], axis: number, keep: ArrayLike<number>): T {
  const outer = shape.slice(0, axis).reduce((x, y) => x * y, 1);
  const { inner, n } = axisStride(shape, axis);
  const out = new (a.constructor as new (n: number) => T)(outer * keep.length * inner);
  for (let o = 0; o < outer; o++) {
    for (let j = 0; j < keep.length; j++) {
      const from = (o * n + keep[j]!) * inner;
      out.set(a.subarray(from, from + inner), (o * keep.length + j) * inner);
    }
  }
  return out;
}

/**
 * `w` keeping only the indices `keep` (ascending) of `axis`: values and codes alike, so the stored grid (and every
 * kept value) is unchanged; a per-channel int8 weight sliced along its channel axis keeps those channels' scales.
 */
export function sliceWeight(w: WeightIR, axis: number, keep: ArrayLike<number>): WeightIR {
  const shape = [...w.shape];
  shape[axis] = keep.length;
  const out: WeightIR = { name: w.name, shape, values: sliceArray(w.values, w.shape, axis, keep) };
  const s = w.storage;
  if (!s) return out;
  if (s.dtype === 'int8') {
    const codes = sliceArray(s.codes, w.shape, axis, keep);
    out.storage = s.axis === axis
      ? { ...s, codes, scales: Array.from(keep, (k) => s.scales[k]!), zeroPoints: Array.from(keep, (k) => s.zeroPoints[k]!) }
      : { ...s, codes, scales: [...s.scales], zeroPoints: [...s.zeroPoints] };
  } else {
    out.storage = { ...s, codes: sliceArray(s.codes, w.shape, axis, keep) } as WeightStorage;
  }
  return out;
}

/** A copy of `ir` with every weight `pick` chooses (default: all) stored as `spec`. */
export function quantizeModel(ir: ModelIR, spec: StorageSpec, pick: (layer: LayerIR, weight: WeightIR) => boolean = () => true): ModelIR {
  return { ...ir, layers: ir.layers.map((l) => ({ ...l, weights: l.weights.map((w) => (pick(l, w) ? quantizeWeight(w, spec) : w)) })) };
}
