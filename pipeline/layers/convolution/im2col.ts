/**
 * im2col for least-squares reconstruction of convolutions: the receptive field of chosen output positions as rows
 * in the kernel's row order ([kh, kw, C] flattened), with tfjs's geometry (strides, dilation, 'same' padding split
 * floor-first like TensorFlow, 'causal' all on the left). Zero where the field leaves the input. A 1-D convolution
 * is the 2-D case with height 1.
 */
import { convOutputLength, samePads } from '../window.ts';
import type { Conv1DConfig, Pair } from './config.ts';

export interface ConvGeometry {
  kernel: Pair;
  strides: Pair;
  dilation: Pair;
  /** Padding before the first row and column. */
  pads: Pair;
  /** Output height and width. */
  out: Pair;
}

/** The geometry of a 2-D convolution over an H×W input. */
export function conv2dGeometry(c: { kernelSize: Pair; strides: Pair; dilationRate: Pair; padding: 'valid' | 'same' }, [h, w]: number[]): ConvGeometry {
  const out: Pair = [
    convOutputLength(h!, c.kernelSize[0], c.padding, c.strides[0], c.dilationRate[0]),
    convOutputLength(w!, c.kernelSize[1], c.padding, c.strides[1], c.dilationRate[1]),
  ];
  const pads: Pair = c.padding === 'same'
    ? [samePads(h!, c.kernelSize[0], c.strides[0], c.dilationRate[0])[0], samePads(w!, c.kernelSize[1], c.strides[1], c.dilationRate[1])[0]]
    : [0, 0];
  return { kernel: [...c.kernelSize], strides: [...c.strides], dilation: [...c.dilationRate], pads, out };
}

/** A 1-D convolution over `steps` as the 2-D case with height 1. */
export function conv1dGeometry(c: Conv1DConfig, [steps]: number[]): ConvGeometry {
  const [k, s, d] = [c.kernelSize[0], c.strides[0], c.dilationRate[0]];
  const before = c.padding === 'causal' ? (k - 1) * d : c.padding === 'same' ? samePads(steps!, k, s, d)[0] : 0;
  return { kernel: [1, k], strides: [1, s], dilation: [1, d], pads: [0, before], out: [1, convOutputLength(steps!, k, c.padding, s, d)] };
}

/**
 * Patches of `x` ([count, h, w, c] flat, NHWC) at output positions given as flat indices over
 * [count, outH, outW]; returns positions.length rows of kh·kw·c values.
 */
export function im2col(x: Float32Array, [h, w, c]: [number, number, number], g: ConvGeometry, positions: ArrayLike<number>): Float32Array {
  const [kh, kw] = g.kernel;
  const [sh, sw] = g.strides;
  const [dh, dw] = g.dilation;
  const [oh, ow] = g.out;
  const [padTop, padLeft] = g.pads;
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
