import * as tf from '@tensorflow/tfjs';

/**
 * Shared building blocks for the composed gradient kernels. They avoid Slice/StridedSlice on NHWC tensors with
 * few channels: wasm copies those one pixel at a time in JavaScript. Window extraction runs as a native
 * depthwise convolution instead, and crops slice a [b, h, w·c] view so every copied run is a whole row.
 */

/** The geometry of one 2-D convolution or pooling window, as tfjs's computeConv2DInfo describes it. */
export type ConvGeometry = tf.backend_util.Conv2DInfo;
export type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
export type RoundingMode = 'floor' | 'round' | 'ceil';

/** Where the pooled/convolved windows sit: the forward op's own strides, padding, dilation and rounding. */
export interface WindowSpec {
  strides: [number, number] | number;
  pad: Pad;
  dilations: [number, number] | number;
  dimRoundingMode?: RoundingMode;
}

/**
 * [kh, kw, c, kh·kw] depthwise filter that copies tap t = i·kw + j of every channel to output channel c·kh·kw + t.
 * Convolving with it is im2col on the native convolution path, padding, strides and dilation included.
 */
export function tapSelectorFilter(kh: number, kw: number, channels: number): tf.Tensor4D {
  const taps = kh * kw;
  const values = new Float32Array(taps * channels * taps);
  for (let t = 0; t < taps; t++) {
    for (let c = 0; c < channels; c++) values[(t * channels + c) * taps + t] = 1;
  }
  return tf.tensor4d(values, [kh, kw, channels, taps]);
}

/**
 * Every window of `x` (NHWC) under the spec: [b, outH, outW, c·kh·kw], channel c·kh·kw + t holding tap t of
 * channel c. Padding is zeros, or `padValue` (max pooling pads with the lowest float: a window is never all pad).
 */
export function tapWindows(x: tf.Tensor4D, g: ConvGeometry, spec: WindowSpec, padValue = 0): tf.Tensor4D {
  const filter = tapSelectorFilter(g.filterHeight, g.filterWidth, x.shape[3]);
  const dilations: [number, number] = [g.dilationHeight, g.dilationWidth];
  if (padValue === 0) {
    return tf.depthwiseConv2d(x, filter, spec.strides, spec.pad, 'NHWC', dilations, spec.dimRoundingMode);
  }
  // Pad explicitly (a convolution only pads with zeros), exactly as far as the last window reaches.
  const { top, left } = g.padInfo;
  const needH = (g.outHeight - 1) * g.strideHeight + g.effectiveFilterHeight;
  const needW = (g.outWidth - 1) * g.strideWidth + g.effectiveFilterWidth;
  const cropped = cropTo(x, Math.min(g.inHeight, needH - top), Math.min(g.inWidth, needW - left));
  const bottom = needH - top - cropped.shape[1];
  const right = needW - left - cropped.shape[2];
  const padded = top || bottom || left || right
    ? tf.pad(cropped, [[0, 0], [top, bottom], [left, right], [0, 0]], padValue)
    : cropped;
  return tf.depthwiseConv2d(padded, filter, [g.strideHeight, g.strideWidth], 'valid', 'NHWC', dilations);
}

/** The leading [h, w] rows and columns of an NHWC tensor. */
export function cropTo(x: tf.Tensor4D, h: number, w: number, top = 0, left = 0): tf.Tensor4D {
  const [b, H, W, c] = x.shape;
  if (h === H && w === W && top === 0 && left === 0) return x;
  const rows = tf.slice(tf.reshape(x, [b, H, W * c]), [0, top, left * c], [b, h, w * c]);
  return tf.reshape(rows, [b, h, w, c]);
}

/**
 * Spreads a strided convolution's output gradient back onto the stride-1 grid: (stride - 1) zeros after every
 * value, so the input gradient becomes an ordinary stride-1 correlation. The trailing zeros are kept (they only
 * act as padding; cropping them would cost a copy). NHWC in and out.
 */
export function insertStrideZeros(dy: tf.Tensor4D, strideH: number, strideW: number): tf.Tensor4D {
  if (strideH === 1 && strideW === 1) return dy;
  const [b, h, w, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [b, h, 1, w, 1, c]), [
    [0, 0], [0, 0], [0, strideH - 1], [0, 0], [0, strideW - 1], [0, 0],
  ]);
  return tf.reshape(spread, [b, h * strideH, w * strideW, c]);
}

/**
 * Padding for the input-gradient correlation: a forward pass that padded `padBefore` needs the spread gradient
 * padded by (effectiveFilter - 1 - padBefore) before it. When that is negative (explicit padding larger than the
 * filter) we pad nothing and drop the leading outputs instead. Returns the padding on both sides and how many
 * leading output rows to drop so that exactly `inSize` remain.
 */
export function transposedPadding(
  inSize: number,
  spreadSize: number,
  effectiveFilter: number,
  padBefore: number,
): { before: number; after: number; drop: number } {
  const wanted = effectiveFilter - 1 - padBefore;
  const before = Math.max(0, wanted);
  const drop = Math.max(0, -wanted);
  const after = Math.max(0, drop + inSize + effectiveFilter - 1 - before - spreadSize);
  return { before, after, drop };
}
