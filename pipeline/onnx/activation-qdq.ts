/**
 * Static int8 activations in the ONNX export (the QDQ format onnxruntime's quantiser writes): each quantised tensor
 * goes through QuantizeLinear → DequantizeLinear with a per-tensor scale and zero point from its calibrated range
 * (ModelIR.calibration), so onnxruntime can fuse DequantizeLinear → op → QuantizeLinear into its integer kernels
 * (QLinearConv, QGemm, …) and any other runtime computes the same rounded values.
 */
import type { ActivationRange } from '../ir.ts';
import type { GraphBuilder } from './builder.ts';
import { INT8 } from './proto.ts';

/** int8 scale and zero point of a range (widened to contain 0, so zero — padding, ReLU — is exact). */
export function activationQuantization(range: ActivationRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, range.min);
  const hi = Math.max(0, range.max);
  const scale = Math.fround(hi > lo ? (hi - lo) / 255 : 1);
  const zeroPoint = Math.max(-128, Math.min(127, Math.round(-128 - lo / scale)));
  return { scale, zeroPoint };
}

/** `tensor` quantised to int8 and back, as a new tensor name. */
export function qdq(b: GraphBuilder, tensor: string, range: ActivationRange, hint: string): string {
  const { scale, zeroPoint } = activationQuantization(range);
  const s = b.floatConst(`${hint}/activation_scale`, [], [scale]);
  const z = b.rawConst(`${hint}/activation_zero_point`, [], INT8, new Uint8Array(Int8Array.of(zeroPoint).buffer));
  const q = b.op('QuantizeLinear', [tensor, s, z], {}, `${hint}/quantize`);
  return b.op('DequantizeLinear', [q, s, z], {}, `${hint}/dequantize`);
}
