/**
 * Input preprocessing as config: x = raw · scale + offset, because models are trained on different scalings
 * (raw 0–255 pixels, /255, /255 − 0.5, (x − mean)/std). Raw values are 0–255 for 8-bit image sources (IDX ubyte,
 * the mnist package), whose default scale is 1/255 (offset 0); float data (IDX float/double, arrays) is used as
 * it is by default (scale 1, offset 0).
 */
import { SlimnetError } from '../errors.ts';

export interface ScalingSpec {
  scale?: number;
  offset?: number;
}

export interface Scaling {
  scale: number;
  offset: number;
}

export const PIXEL_SCALE = 1 / 255;

export function resolveScaling(spec: ScalingSpec | undefined, pixels: boolean): Scaling {
  const scale = spec?.scale ?? (pixels ? PIXEL_SCALE : 1);
  const offset = spec?.offset ?? 0;
  if (!Number.isFinite(scale) || scale === 0) throw new SlimnetError('CONFIG_INVALID', 'data.scale', `must be a finite, non-zero number, got ${scale}`);
  if (!Number.isFinite(offset)) throw new SlimnetError('CONFIG_INVALID', 'data.offset', `must be a finite number, got ${offset}`);
  return { scale, offset };
}

/**
 * Scales `x` in place. `rawPerValue` converts the stored values to raw units (255 for a source that stores
 * pixels already divided by 255). An identity scaling leaves the values untouched, bit for bit.
 */
export function scaleInPlace(x: Float32Array, s: Scaling, rawPerValue = 1): void {
  const factor = s.scale * rawPerValue;
  if (factor === 1 && s.offset === 0) return;
  for (let i = 0; i < x.length; i++) x[i] = x[i]! * factor + s.offset;
}

/** x for each byte 0–255: one multiply per possible value, then a table lookup per pixel. */
export function byteTable(s: Scaling): Float32Array {
  return Float32Array.from({ length: 256 }, (_, b) => b * s.scale + s.offset);
}
