/** Small pieces every family uses: errors naming the layer, rank checks, products, common channel rules. */
import { SlimnetError } from '../errors.ts';
import type { LayerIR } from '../ir.ts';
import type { ChannelContext, LayerConfig, Shape } from './types.ts';

export function layerWhere(layer: { name: string; className: string }): string {
  return `layer "${layer.name}" (${layer.className})`;
}

/** The layer does not fit its inputs (or its weights): the model is inconsistent. */
export function invalid(layer: LayerIR, message: string, hint = 'the model topology is inconsistent; re-export the model'): SlimnetError {
  return new SlimnetError('MODEL_INVALID', layerWhere(layer), message, hint);
}

/** The input shape of a one-input layer, checked to have rank `r` (per sample). */
export function inputOfRank(layer: LayerIR, inputs: Shape[], r: number, what = r === 3 ? 'H, W, C' : r === 2 ? 'steps, channels' : `rank ${r}`): Shape {
  const s = inputs[0]!;
  if (s.length !== r) throw invalid(layer, `expects a ${r}-D input per sample (${what}), got [${s}]`);
  return s;
}

export const prod = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** A layer whose output channels are its input's, one for one. */
export function passChannels<C extends LayerConfig>(ctx: ChannelContext<C>): Int32Array {
  return ctx.input();
}

/** Channel rule of a layer that applies softmax across channels: its input's classes must all stay. */
export function softmaxAcrossChannels<C extends LayerConfig>(ctx: ChannelContext<C>): Int32Array {
  const input = ctx.input();
  ctx.block(input, `layer "${ctx.layer.name}" applies softmax across channels`);
  return input;
}

/** Each atom repeated `times` times in place: [a, b] × 2 → [a, a, b, b] (depthwise multipliers). */
export function repeatEach(a: Int32Array, times: number): Int32Array {
  const out = new Int32Array(a.length * times);
  for (let i = 0; i < a.length; i++) out.fill(a[i]!, i * times, (i + 1) * times);
  return out;
}

/** No weights. */
export const noWeights = (): [] => [];
/** Output shape = the (only) input's. */
export const sameShape = (_layer: LayerIR, inputs: Shape[]): Shape => [...inputs[0]!];
