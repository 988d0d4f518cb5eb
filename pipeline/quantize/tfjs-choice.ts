/**
 * What the TF.js export writes for an int8 weight. tfjs's weights manifest holds one affine (scale, min) per tensor,
 * so per-channel int8 cannot ship as such; the nearest formats stock tfjs loads are uint8 (1 byte, per-tensor
 * affine) and uint16 / float16 (2 bytes). The choice is per weight, by measured error against the float weight:
 * uint8 when its error stays within `maxErrorRatio` × the int8 weight's own error (one shared range hurts a weight
 * whose channels have very different ranges — the tfjs uint8 breakages of tfjs #1602/#1655), else whichever of
 * uint16 and float16 is closer. The artifact is then measured as shipped; the fallback can still raise it.
 */
import type { TfjsShipping, WeightIR } from '../ir.ts';
import { valuesAsShippedToTfjs } from '../io/stored-weights.ts';

export interface TfjsChoice {
  written: TfjsShipping;
  /** RMS error against the float weight, relative to the float weight's RMS: of the int8 codes, and of each tfjs format tried. */
  error: { int8: number } & Partial<Record<TfjsShipping, number>>;
}

function rms(a: Float32Array, b?: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i]! - (b ? b[i]! : 0);
    s += d * d;
  }
  return Math.sqrt(s / Math.max(1, a.length));
}

/** `quantised` is the int8 weight (its storage carries no decision yet); `original` the float values it came from. */
export function chooseTfjsShipping(original: Float32Array, quantised: WeightIR, maxErrorRatio: number): TfjsChoice {
  if (quantised.storage?.dtype !== 'int8') throw new Error(`chooseTfjsShipping: weight ${quantised.name} is not int8`);
  const norm = rms(original) || 1;
  const errorAs = (tfjs: TfjsShipping) => rms(valuesAsShippedToTfjs({ ...quantised, storage: { ...quantised.storage!, tfjs } } as WeightIR), original) / norm;
  const int8 = rms(quantised.values, original) / norm;
  const uint8 = errorAs('uint8');
  if (uint8 <= maxErrorRatio * int8 + 1e-12) return { written: 'uint8', error: { int8, uint8 } };
  const uint16 = errorAs('uint16');
  const float16 = errorAs('float16');
  return { written: uint16 <= float16 ? 'uint16' : 'float16', error: { int8, uint8, uint16, float16 } };
}

/** One step up for a weight the TF.js artifact's fallback raises: uint8 → uint16, then float32 (undefined: float32). */
export function nextTfjsShipping(current: TfjsShipping | undefined): TfjsShipping | undefined | 'top' {
  if (current === 'uint8') return 'uint16';
  if (current === 'uint16' || current === 'float16') return undefined;
  return 'top';
}
