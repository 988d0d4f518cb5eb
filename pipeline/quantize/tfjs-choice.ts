/**
 * What the TF.js export writes for an int8 weight. tfjs's weights manifest holds one affine (scale, min) per tensor,
 * so per-channel int8 cannot ship as such; the nearest formats stock tfjs loads are uint8 (1 byte, per-tensor
 * affine) and uint16 / float16 (2 bytes). The choice is per weight, by measured error against the float weight,
 * taken per output channel (RMS error relative to the channel's own RMS) and judged by the worst channel: one shared
 * range rounds away the channels whose values are small next to the tensor's largest — the tfjs uint8 breakages of
 * tfjs #1602/#1655, and depthwise kernels after BN folding — which a whole-tensor error hides. uint8 when its worst
 * channel stays within `maxErrorRatio` × the int8 weight's own worst channel, else whichever of uint16 and float16 is
 * closer. The artifact is then measured as shipped; the fallback can still raise it.
 */
import type { TfjsShipping, WeightIR } from '../ir.ts';
import { valuesAsShippedToTfjs } from '../io/stored-weights.ts';

export interface TfjsChoice {
  written: TfjsShipping;
  /** Worst channel's RMS error against the float weight, relative to that channel's RMS: of the int8 codes, and of each tfjs format tried. */
  error: { int8: number } & Partial<Record<TfjsShipping, number>>;
}

/** Per slice of `axis` (the whole tensor when undefined): RMS of got − want over RMS of want; the largest of them. */
export function worstChannelError(want: Float32Array, got: Float32Array, shape: number[], axis?: number): number {
  const inner = axis === undefined ? want.length : shape.slice(axis + 1).reduce((x, y) => x * y, 1);
  const n = axis === undefined ? 1 : shape[axis]!;
  const err = new Float64Array(n);
  const norm = new Float64Array(n);
  for (let i = 0; i < want.length; i++) {
    const c = Math.floor(i / inner) % n;
    err[c] += (got[i]! - want[i]!) ** 2;
    norm[c] += want[i]! ** 2;
  }
  let worst = 0;
  // An all-zero channel compares its error with 1 (absolute).
  for (let c = 0; c < n; c++) worst = Math.max(worst, Math.sqrt(err[c]! / (norm[c]! || 1)));
  return worst;
}

/** `quantised` is the int8 weight (its storage carries no decision yet); `original` the float values it came from. */
export function chooseTfjsShipping(original: Float32Array, quantised: WeightIR, maxErrorRatio: number): TfjsChoice {
  const s = quantised.storage;
  if (s?.dtype !== 'int8') throw new Error(`chooseTfjsShipping: weight ${quantised.name} is not int8`);
  const error = (values: Float32Array) => worstChannelError(original, values, quantised.shape, s.axis);
  const errorAs = (tfjs: TfjsShipping) => error(valuesAsShippedToTfjs({ ...quantised, storage: { ...s, tfjs } }));
  const int8 = error(quantised.values);
  const uint8 = errorAs('uint8');
  if (uint8 <= maxErrorRatio * int8 + 1e-7) return { written: 'uint8', error: { int8, uint8 } };
  const uint16 = errorAs('uint16');
  const float16 = errorAs('float16');
  return { written: uint16 <= float16 ? 'uint16' : 'float16', error: { int8, uint8, uint16, float16 } };
}
