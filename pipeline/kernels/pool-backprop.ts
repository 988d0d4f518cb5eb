import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { filterTapWindows, insertStrideZeros } from './conv-geometry.ts';

/**
 * MaxPoolGrad for wasm. The kernel wasm 4.22 ships gets 'same' padding with strides > 1 wrong and, on ties,
 * routes the gradient to the last maximum of a window; TensorFlow (and tfjs's cpu backend) route it to the first
 * maximum in row-major window order. This one does that: walk the window taps in order, and a tap takes the
 * gradient where it equals the pooled maximum and no earlier tap has already claimed it.
 */

type MaxPoolGradAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
};

export function maxPoolInputGradient(
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  a: MaxPoolGradAttrs,
): tf.Tensor4D {
  const g = tf.backend_util.computePool2DInfo(x.shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const windows = filterTapWindows(x, g, -Infinity);
  const zeros = tf.zerosLike(dy);
  let claimed: tf.Tensor | undefined;
  const routed = windows.map((window) => {
    const isMax = tf.equal(window, y);
    const takes = claimed ? tf.logicalAnd(isMax, tf.logicalNot(claimed)) : isMax;
    claimed = claimed ? tf.logicalOr(claimed, isMax) : isMax;
    return tf.where(takes, dy, zeros) as tf.Tensor4D;
  });
  return scatterTaps(routed, g);
}

/**
 * The transpose of filterTapWindows: adds each tap's [b, oh, ow, c] values back at the input positions that tap
 * read, and returns the [b, h, w, c] sum with the padding cut off.
 */
export function scatterTaps(perTap: tf.Tensor4D[], g: tf.backend_util.Conv2DInfo): tf.Tensor4D {
  const [b, oh, ow, c] = perTap[0].shape;
  const { top, left } = g.padInfo;
  const kh = g.filterHeight;
  const kw = g.filterWidth;
  const tiles = g.strideHeight === kh && g.strideWidth === kw && g.dilationHeight === 1 && g.dilationWidth === 1;
  let grid: tf.Tensor4D;
  if (tiles) {
    // Windows tile the input exactly: interleave the taps with one transpose instead of kh·kw scatters.
    const stacked = tf.reshape(tf.stack(perTap, 3), [b, oh, ow, kh, kw, c]);
    grid = tf.reshape(tf.transpose(stacked, [0, 1, 3, 2, 4, 5]), [b, oh * kh, ow * kw, c]);
  } else {
    const spanH = (oh - 1) * g.strideHeight + 1;
    const spanW = (ow - 1) * g.strideWidth + 1;
    const extentH = (kh - 1) * g.dilationHeight + spanH;
    const extentW = (kw - 1) * g.dilationWidth + spanW;
    const placed = perTap.map((values, t) => {
      const r = Math.floor(t / kw) * g.dilationHeight;
      const col = (t % kw) * g.dilationWidth;
      const spread = insertStrideZeros(values, g.strideHeight, g.strideWidth);
      return tf.pad(spread, [[0, 0], [r, extentH - r - spanH], [col, extentW - col - spanW], [0, 0]]);
    });
    grid = tf.addN(placed) as tf.Tensor4D;
  }
  // The grid starts at padded row 0 = input row -top; it may stop short of the input (rows no window reads) or
  // run past it (bottom padding).
  const [, gh, gw] = grid.shape;
  const keepH = Math.min(g.inHeight, gh - top);
  const keepW = Math.min(g.inWidth, gw - left);
  let dx = tf.slice(grid, [0, top, left, 0], [b, keepH, keepW, c]);
  if (keepH < g.inHeight || keepW < g.inWidth) {
    dx = tf.pad(dx, [[0, 0], [0, g.inHeight - keepH], [0, g.inWidth - keepW], [0, 0]]);
  }
  return dx;
}

export const maxPoolGradKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'MaxPoolGrad',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as MaxPoolGradAttrs;
    return runComposed(backend, inputs, ['dy', 'input', 'output'], (dy, x, y) =>
      maxPoolInputGradient(dy as tf.Tensor4D, x as tf.Tensor4D, y as tf.Tensor4D, a),
    );
  },
});
