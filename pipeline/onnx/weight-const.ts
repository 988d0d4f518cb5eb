/**
 * IR weights as ONNX initializers, in the storage they ship in (pipeline/weight-storage.ts), so a quantised model
 * does not come out of the ONNX export four times larger and computes exactly the IR's values:
 * - int8 (symmetric or with zero points, per tensor or per channel): an INT8 initializer + DequantizeLinear
 *   (per-axis since opset 13) — the ONNX QDQ form of weight quantisation; or, when the storage says `onnx:
 *   'cast-mul'` (symmetric), Cast + Mul by the scales, which onnxruntime folds into float32 constants at load;
 * - float16: a FLOAT16 initializer + Cast to float (exact; infinities, which tfjs decodes as 65536, go float32);
 * - tfjs uint8/uint16 affine (f32(q·scale + min), computed in float64): the codes as a UINT8/UINT16 initializer and
 *   a 256/65536-entry float32 table of exactly tfjs's decodings, joined by Cast + Gather — bit-exact, where
 *   DequantizeLinear's f32((q − zp)·f32(scale)) rounds differently for most tensors (and takes 16-bit codes only from
 *   opset 21); used when it is smaller than float32 (uint8 above 341 values, uint16 above 131,072), else float32;
 * - float32: a float initializer.
 * onnxruntime folds these constant subgraphs at session creation, so inference runs on the same float32 weights.
 * The layout change a converter needs (TF kernel → ONNX kernel) is a permutation then a reshape; the codes follow
 * the values and the quantisation axis follows the permutation.
 */
import type { AffineStorage, WeightIR } from '../ir.ts';
import { permute } from '../typed-arrays.ts';
import { decodeStorage } from '../weight-storage.ts';
import type { GraphBuilder } from './builder.ts';
import { FLOAT, FLOAT16, INT32, INT8, UINT16, UINT8 } from './proto.ts';

const allCodes8 = Uint8Array.from({ length: 256 }, (_, i) => i);
const allCodes16 = Uint16Array.from({ length: 65536 }, (_, i) => i);

export interface WeightLayout {
  /** Axis permutation applied to the IR weight (numpy transpose order). Default: none. */
  perm?: number[];
  /** The initializer's dims after the permutation (a reshape: same element count). Default: the permuted shape. */
  dims?: number[];
}

const product = (a: number[]) => a.reduce((x, y) => x * y, 1);

/** The tensor name holding `w` as float32 (after dequantisation inside the graph when it is stored quantised). */
export function weightConst(b: GraphBuilder, hint: string, w: WeightIR, layout: WeightLayout = {}): string {
  const perm = layout.perm ?? w.shape.map((_, i) => i);
  const permuted = perm.map((p) => w.shape[p]!);
  const dims = layout.dims ?? permuted;
  if (product(dims) !== w.values.length) throw new Error(`${hint}: dims [${dims}] do not hold ${w.values.length} values`);
  const s = w.storage;
  const move = <T extends Parameters<typeof permute>[0]>(a: T): T => (layout.perm ? permute(a, w.shape, perm) : a);
  if (s?.dtype === 'int8') {
    const axis = s.axis === undefined ? undefined : quantAxis(perm.indexOf(s.axis), permuted, dims);
    if (s.axis === undefined || axis) {
      const codes = b.rawConst(`${hint}/quantized`, dims, INT8, bytesOf(move(s.codes)));
      const repeat = axis?.repeat ?? 1;
      const scales = s.scales.flatMap((v) => Array<number>(repeat).fill(v));
      const zeroPoints = s.zeroPoints.flatMap((v) => Array<number>(repeat).fill(v));
      const scalar = s.axis === undefined;
      if (s.onnx === 'cast-mul' && zeroPoints.every((z) => z === 0)) {
        // f32(q)·f32(s) rounds once, like DequantizeLinear: the same values, in ops onnxruntime constant-folds.
        const float = b.op('Cast', [codes], { to: { i: FLOAT } }, `${hint}/codes`);
        const scale = b.floatConst(`${hint}/scale`, scalar ? [] : dims.map((d, i) => (i === axis!.axis ? d : 1)), scales);
        return b.op('Mul', [float, scale], {}, hint);
      }
      const scale = b.floatConst(`${hint}/scale`, scalar ? [] : [scales.length], scales);
      const zero = b.rawConst(`${hint}/zero_point`, scalar ? [] : [zeroPoints.length], INT8, bytesOf(Int8Array.from(zeroPoints)));
      return b.op('DequantizeLinear', [codes, scale, zero], scalar ? {} : { axis: { i: axis!.axis } }, hint);
    }
  } else if (s?.dtype === 'float16' && s.codes.every((h) => (h & 0x7c00) !== 0x7c00)) {
    const half = b.rawConst(`${hint}/float16`, dims, FLOAT16, bytesOf(move(s.codes)));
    return b.op('Cast', [half], { to: { i: FLOAT } }, hint);
  } else if (s?.dtype === 'uint8' || s?.dtype === 'uint16') {
    const levels = s.dtype === 'uint8' ? 256 : 65536;
    const codeBytes = s.dtype === 'uint8' ? 1 : 2;
    if (w.values.length * codeBytes + levels * 4 < w.values.length * 4) {
      const codes = b.rawConst(`${hint}/quantized`, dims, s.dtype === 'uint8' ? UINT8 : UINT16, bytesOf(move(s.codes)));
      // The table holds what tfjs decodes each code to; decodeStorage is that decoding.
      const table = b.floatConst(`${hint}/table`, [levels], decodeStorage({ ...s, codes: s.dtype === 'uint8' ? allCodes8 : allCodes16 } as AffineStorage, [levels]));
      const index = b.op('Cast', [codes], { to: { i: INT32 } }, `${hint}/index`);
      return b.op('Gather', [table, index], { axis: { i: 0 } }, hint);
    }
  }
  return b.floatConst(hint, dims, move(w.values));
}

/**
 * Where the quantisation axis lands after the reshape to `dims`: the same axis, or an axis that merges it with the
 * axes after it (each scale then repeats for the merged ones). Undefined if the reshape splits or moves it.
 */
export function quantAxis(axis: number, shape: number[], dims: number[]): { axis: number; repeat: number } | undefined {
  const before = product(shape.slice(0, axis));
  for (let d = 0, seen = 1; d < dims.length; seen *= dims[d]!, d++) {
    if (seen !== before) continue;
    const repeat = dims[d]! / shape[axis]!;
    if (Number.isInteger(repeat) && product(shape.slice(axis + 1)) % repeat === 0) return { axis: d, repeat };
  }
  return undefined;
}

function bytesOf(a: Int8Array | Uint8Array | Uint16Array): Uint8Array {
  // ONNX raw_data is little-endian, as are the typed arrays on every platform slimnet supports.
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}
