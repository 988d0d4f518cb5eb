import * as tf from '@tensorflow/tfjs';

/** The geometry of one 2-D convolution in NHWC terms, as tfjs's computeConv2DInfo describes it. */
export type ConvGeometry = tf.backend_util.Conv2DInfo;

/**
 * The input window under each filter tap: for tap (i, j), the [batch, outHeight, outWidth, channels] slice of the
 * padded input that tap multiplies (zero padding for convolutions, -Infinity for max pooling). Taps are listed row-major (i, then j), the order of a filter's
 * [height, width] axes. `x` is NHWC.
 */
export function filterTapWindows(x: tf.Tensor4D, g: ConvGeometry, padValue = 0): tf.Tensor4D[] {
  const [batch, , , channels] = x.shape;
  const spanH = (g.outHeight - 1) * g.strideHeight + 1;
  const spanW = (g.outWidth - 1) * g.strideWidth + 1;
  // Padding beyond what the last tap reaches is never read, so pad only up to it.
  const needH = (g.filterHeight - 1) * g.dilationHeight + spanH;
  const needW = (g.filterWidth - 1) * g.dilationWidth + spanW;
  const { top, left } = g.padInfo;
  const bottom = Math.max(0, needH - top - g.inHeight);
  const right = Math.max(0, needW - left - g.inWidth);
  const padded =
    top || bottom || left || right
      ? tf.pad(x, [[0, 0], [top, bottom], [left, right], [0, 0]], padValue)
      : x;
  const windows: tf.Tensor4D[] = [];
  for (let i = 0; i < g.filterHeight; i++) {
    for (let j = 0; j < g.filterWidth; j++) {
      const r = i * g.dilationHeight;
      const c = j * g.dilationWidth;
      if (g.strideHeight === 1 && g.strideWidth === 1) {
        windows.push(tf.slice(padded, [0, r, c, 0], [batch, g.outHeight, g.outWidth, channels]));
      } else {
        windows.push(
          tf.stridedSlice(
            padded,
            [0, r, c, 0],
            [batch, r + spanH, c + spanW, channels],
            [1, g.strideHeight, g.strideWidth, 1],
          ) as tf.Tensor4D,
        );
      }
    }
  }
  return windows;
}

/**
 * Spreads a strided convolution's output gradient back onto the stride-1 grid: (stride - 1) zeros between
 * neighbouring values, so the input gradient becomes an ordinary stride-1 correlation. NHWC in and out.
 */
export function insertStrideZeros(dy: tf.Tensor4D, strideH: number, strideW: number): tf.Tensor4D {
  if (strideH === 1 && strideW === 1) return dy;
  const [b, h, w, c] = dy.shape;
  const spread = tf.pad(tf.reshape(dy, [b, h, 1, w, 1, c]), [
    [0, 0], [0, 0], [0, strideH - 1], [0, 0], [0, strideW - 1], [0, 0],
  ]);
  const grid = tf.reshape(spread, [b, h * strideH, w * strideW, c]);
  return tf.slice(grid, [0, 0, 0, 0], [b, (h - 1) * strideH + 1, (w - 1) * strideW + 1, c]) as tf.Tensor4D;
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
