/**
 * im2col for Conv2D reconstruction: the receptive field of chosen output positions as rows in the kernel's row
 * order ([kh, kw, C] flattened), with tfjs's geometry (strides, dilation, 'same' padding split floor-first like
 * TensorFlow). Zero where the field leaves the input.
 */
import { convOutputLength } from '../graph/shapes.ts';

export interface ConvGeometry {
  kernel: [number, number];
  strides: [number, number];
  dilation: [number, number];
  padding: 'same' | 'valid';
}

/** A Keras Conv2D config's geometry. */
export function convGeometry(config: Record<string, unknown>): ConvGeometry {
  const pair = (v: unknown, d: number): [number, number] => (typeof v === 'number' ? [v, v] : Array.isArray(v) ? [v[0] as number, v[1] as number] : [d, d]);
  return {
    kernel: pair(config.kernel_size, 1),
    strides: pair(config.strides, 1),
    dilation: pair(config.dilation_rate, 1),
    padding: config.padding === 'same' ? 'same' : 'valid',
  };
}

/** Output height and width for an H×W input. */
export function convOutputSize(g: ConvGeometry, h: number, w: number): [number, number] {
  return [convOutputLength(h, g.kernel[0], g.padding, g.strides[0], g.dilation[0]), convOutputLength(w, g.kernel[1], g.padding, g.strides[1], g.dilation[1])];
}

/**
 * Patches of `x` ([count, h, w, c] flat, NHWC) at output positions given as flat indices over
 * [count, outH, outW]; returns positions.length rows of kh·kw·c values.
 */
export function im2col(x: Float32Array, [h, w, c]: [number, number, number], g: ConvGeometry, positions: ArrayLike<number>): Float32Array {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilation;
  const [oh, ow] = convOutputSize(g, h, w);
  const padTop = g.padding === 'same' ? Math.floor(Math.max((oh - 1) * sh + (kh - 1) * dh + 1 - h, 0) / 2) : 0;
  const padLeft = g.padding === 'same' ? Math.floor(Math.max((ow - 1) * sw + (kw - 1) * dw + 1 - w, 0) / 2) : 0;
  const n = kh * kw * c;
  const out = new Float32Array(positions.length * n);
  for (let r = 0; r < positions.length; r++) {
    const p = positions[r]!;
    const s = Math.floor(p / (oh * ow));
    const y0 = Math.floor((p % (oh * ow)) / ow) * sh - padTop;
    const x0 = (p % ow) * sw - padLeft;
    for (let i = 0; i < kh; i++) {
      const yy = y0 + i * dh;
      if (yy < 0 || yy >= h) continue;
      for (let j = 0; j < kw; j++) {
        const xx = x0 + j * dw;
        if (xx < 0 || xx >= w) continue;
        const from = ((s * h + yy) * w + xx) * c;
        out.set(x.subarray(from, from + c), r * n + (i * kw + j) * c);
      }
    }
  }
  return out;
}
