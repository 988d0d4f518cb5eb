/**
 * IR weights (values + storage) ⇄ TF.js weights-manifest entries and bytes. A weight is written in the storage it
 * carries: float16 and uint8/uint16 affine exactly as tfjs (and tensorflowjs_converter) store them, so reading a
 * quantised model and writing it again gives the same weight bytes and manifest. Linear int8, which the tfjs format
 * cannot say, is written as tfjs uint8 when that decodes to the same values (per tensor) and as float32 otherwise
 * (per channel), with slimnet's own `slimnet.int8` key on the entry: stock tfjs ignores it and loads the dequantised
 * values; slimnet reads it back, so int8 storage survives model.json and the stage cache.
 */
import { SlimnetError } from '../errors.ts';
import type { Int8Storage, TfjsShipping, WeightIR, WeightStorage } from '../ir.ts';
import { checkStorage, decodeStorage } from '../weight-storage.ts';
import { decodeEntry, encodeValues, type ManifestEntry, type WeightQuantization } from './weights.ts';

/** slimnet's key on a manifest entry: the int8 storage of a weight whose shard bytes are tfjs uint8 or float32. */
export interface SlimnetEntryExtension {
  int8: { axis?: number; scales: number[]; zeroPoints: number[]; tfjs?: TfjsShipping; onnx?: 'cast-mul' };
}

export interface EncodeOptions {
  /**
   * Write for stock tfjs (the TF.js export): an int8 weight that carries a `tfjs` shipping format is written in it
   * (decoded by tfjs to values near, not equal to, the int8 ones; no slimnet key, since the bytes no longer hold the
   * int8 codes). Otherwise (stage models, the cache) int8 stays exact so it survives a round trip.
   */
  stockTfjs?: boolean;
}

export interface EncodedWeight {
  bytes: Uint8Array;
  quantization?: WeightQuantization;
  slimnet?: SlimnetEntryExtension;
}

function bytesOf(a: Uint8Array | Uint16Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** One IR weight as manifest bytes and entry fields, in its storage. `where` names it if its values and codes disagree (a bug). */
export function encodeStoredWeight(w: WeightIR, where: string, opts: EncodeOptions = {}): EncodedWeight {
  checkStorage(w, where);
  const s = w.storage;
  if (!s) return { bytes: new Uint8Array(w.values.slice().buffer) };
  switch (s.dtype) {
    case 'float16':
      return { bytes: bytesOf(s.codes), quantization: { dtype: 'float16' } };
    case 'uint8':
    case 'uint16':
      return { bytes: bytesOf(s.codes), quantization: { dtype: s.dtype, scale: s.scale, min: s.min } };
    case 'int8': {
      const slimnet: SlimnetEntryExtension = {
        int8: { ...(s.axis === undefined ? {} : { axis: s.axis }), scales: [...s.scales], zeroPoints: [...s.zeroPoints], ...(s.tfjs ? { tfjs: s.tfjs } : {}), ...(s.onnx ? { onnx: s.onnx } : {}) },
      };
      if (s.axis === undefined) {
        // (q − zp)·s = (q + 128)·s − (zp + 128)·s: tfjs uint8 with min = −(zp + 128)·s — when tfjs's float64 decoding
        // lands on the same float32 for every code (checked, not assumed).
        const scale = s.scales[0]!;
        const min = -(s.zeroPoints[0]! + 128) * scale;
        const codes = Uint8Array.from(s.codes, (q) => q + 128);
        let exact = true;
        for (let i = 0; i < codes.length && exact; i++) exact = Math.fround(codes[i]! * scale + min) === w.values[i];
        if (exact) return { bytes: codes, quantization: { dtype: 'uint8', scale, min }, slimnet };
      }
      if (opts.stockTfjs && s.tfjs) return tfjsShipped(w.values, s.tfjs);
      return { bytes: new Uint8Array(w.values.slice().buffer), slimnet };
    }
  }
}

/** `values` encoded in a tfjs manifest format (the converter's per-tensor formula for uint8/uint16). */
export function tfjsShipped(values: Float32Array, dtype: TfjsShipping): EncodedWeight {
  const { bytes, quantization } = encodeValues(values, dtype);
  return quantization ? { bytes, quantization } : { bytes };
}

/** The values stock tfjs decodes `w` to from the TF.js export (what writeModel with stockTfjs writes for it). */
export function valuesAsShippedToTfjs(w: WeightIR): Float32Array {
  const { bytes, quantization } = encodeStoredWeight(w, `weight "${w.name}"`, { stockTfjs: true });
  return decodeEntry({ name: w.name, shape: w.shape, dtype: 'float32', ...(quantization ? { quantization } : {}) }, bytes);
}

/** A weight's values and storage from its manifest entry and bytes (as tfjs decodes them). */
export function decodeStoredWeight(entry: ManifestEntry & { slimnet?: unknown }, bytes: Uint8Array): { values: Float32Array; storage?: WeightStorage } {
  const values = decodeEntry(entry, bytes);
  const q = entry.quantization;
  let storage: WeightStorage | undefined;
  // int32 weights come back rounded to integers, which their codes do not say: those stay float32.
  if (q && entry.dtype === 'float32') {
    const raw = bytes.slice();
    if (q.dtype === 'float16') storage = { dtype: 'float16', codes: new Uint16Array(raw.buffer) };
    else if (q.dtype === 'uint8') storage = { dtype: 'uint8', scale: q.scale!, min: q.min!, codes: raw };
    else storage = { dtype: 'uint16', scale: q.scale!, min: q.min!, codes: new Uint16Array(raw.buffer) };
  }
  if (entry.slimnet !== undefined) storage = int8FromEntry(entry, values);
  return storage ? { values, storage } : { values };
}

function invalid(entry: ManifestEntry, message: string): SlimnetError {
  return new SlimnetError('MODEL_INVALID', `weight "${entry.name}"`, `slimnet.int8 ${message}`, 'the model.json was edited or damaged; re-export it with slimnet, or remove the "slimnet" key to load it as float');
}

/** The int8 storage a `slimnet.int8` entry key describes, with codes recovered from the values and verified. */
function int8FromEntry(entry: ManifestEntry & { slimnet?: unknown }, values: Float32Array): Int8Storage {
  const ext = (entry.slimnet as { int8?: unknown } | null)?.int8 as { axis?: unknown; scales?: unknown; zeroPoints?: unknown } | undefined;
  if (typeof ext !== 'object' || ext === null) throw invalid(entry, 'is missing or not an object');
  const { axis, scales, zeroPoints, tfjs, onnx } = ext as typeof ext & { tfjs?: unknown; onnx?: unknown };
  if (onnx !== undefined && onnx !== 'cast-mul') throw invalid(entry, `onnx ${JSON.stringify(onnx)} is not "cast-mul"`);
  if (tfjs !== undefined && tfjs !== 'uint8' && tfjs !== 'uint16' && tfjs !== 'float16') throw invalid(entry, `tfjs ${JSON.stringify(tfjs)} is not uint8, uint16 or float16`);
  if (axis !== undefined && !(Number.isInteger(axis) && (axis as number) >= 0 && (axis as number) < entry.shape.length)) throw invalid(entry, `axis ${JSON.stringify(axis)} is not an axis of shape [${entry.shape}]`);
  const channels = axis === undefined ? 1 : entry.shape[axis as number]!;
  if (!Array.isArray(scales) || scales.length !== channels || !scales.every((v) => typeof v === 'number' && v > 0 && Number.isFinite(v) && Math.fround(v) === v)) {
    throw invalid(entry, `scales must be ${channels} positive float32 numbers`);
  }
  if (!Array.isArray(zeroPoints) || zeroPoints.length !== channels || !zeroPoints.every((z) => Number.isInteger(z) && z >= -128 && z <= 127)) {
    throw invalid(entry, `zeroPoints must be ${channels} integers in −128..127`);
  }
  const inner = axis === undefined ? values.length : entry.shape.slice((axis as number) + 1).reduce((a, b) => a * b, 1);
  const codes = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const c = Math.floor(i / inner) % channels;
    // values are f32((q − zp)·s), so v/s is within 2⁻²⁴ relative of the integer q − zp.
    codes[i] = Math.max(-128, Math.min(127, Math.round(values[i]! / scales[c]!) + zeroPoints[c]!));
  }
  const storage: Int8Storage = {
    dtype: 'int8', ...(axis === undefined ? {} : { axis: axis as number }), scales: [...scales], zeroPoints: [...zeroPoints], codes, ...(tfjs ? { tfjs } : {}), ...(onnx ? { onnx } : {}),
  };
  const decoded = decodeStorage(storage, entry.shape);
  for (let i = 0; i < values.length; i++) {
    if (decoded[i] !== values[i]) throw invalid(entry, `does not reproduce value ${i} (${values[i]}) of the weight`);
  }
  return storage;
}
