/**
 * Kernels in the TFLite layout, with the storage they ship in (ir.ts WeightStorage), so a model whose weights are
 * quantised does not come out of the float32 export four times larger, and computes exactly the IR's values:
 * - int8 (per tensor or per channel, with zero points or symmetric): an INT8 constant with its scales and zero
 *   points + DEQUANTIZE — the form TF's converter gives weight-only quantised models;
 * - float16: a FLOAT16 constant + DEQUANTIZE (TF's float16 quantisation), unless it holds infinities or NaNs
 *   (tfjs decodes those differently);
 * - tfjs uint8/uint16 affine (f32(q·scale + min)): float32 — TFLite's (q − zeroPoint)·scale has no exact form for it.
 * The layout change (Keras kernel → TFLite kernel) is a permutation then a reshape; codes follow the values and the
 * quantisation axis follows the permutation (quantAxis, shared with the ONNX writer).
 */
import type { WeightIR } from '../../ir.ts';
import { quantAxis, type WeightLayout } from '../../onnx/weight-const.ts';
import { permute } from '../../typed-arrays.ts';

export type StoredKernel =
  | { dtype: 'int8'; codes: Int8Array; scales: number[]; zeroPoints: number[]; axis?: number }
  | { dtype: 'float16'; codes: Uint16Array };

/** A kernel as an op takes it: float32 values in the TFLite `shape`, and its stored form when it has one TFLite can hold. */
export interface Kernel {
  values: Float32Array;
  shape: number[];
  stored?: StoredKernel;
}

const isFinite16 = (h: number) => (h & 0x7c00) !== 0x7c00;

/** `w` permuted by `layout.perm` and reshaped to `layout.dims`, its storage carried along when TFLite can hold it. */
export function kernelOf(w: WeightIR, layout: WeightLayout = {}): Kernel {
  const perm = layout.perm ?? w.shape.map((_, i) => i);
  const permuted = perm.map((p) => w.shape[p]!);
  const shape = layout.dims ?? permuted;
  const move = <T extends Float32Array | Int8Array | Uint16Array>(a: T): T => (layout.perm ? permute(a, w.shape, perm) : a);
  const kernel: Kernel = { values: move(w.values), shape };
  const s = w.storage;
  if (s?.dtype === 'int8') {
    if (s.axis === undefined) {
      kernel.stored = { dtype: 'int8', codes: move(s.codes), scales: [...s.scales], zeroPoints: [...s.zeroPoints] };
    } else {
      const at = quantAxis(perm.indexOf(s.axis), permuted, shape);
      if (at) {
        const repeat = <T>(a: T[]) => a.flatMap((v) => Array<T>(at.repeat).fill(v));
        kernel.stored = { dtype: 'int8', codes: move(s.codes), scales: repeat(s.scales), zeroPoints: repeat(s.zeroPoints), axis: at.axis };
      }
    }
  } else if (s?.dtype === 'float16' && s.codes.every(isFinite16)) {
    kernel.stored = { dtype: 'float16', codes: move(s.codes) };
  }
  return kernel;
}
