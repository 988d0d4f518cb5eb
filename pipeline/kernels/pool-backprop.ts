import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { cropTo, tapSelectorFilter, tapWindows, type Pad, type RoundingMode } from './conv-geometry.ts';
import { depthwiseInputGradient } from './depthwise-backprop.ts';

/**
 * MaxPoolGrad for wasm. The kernel wasm 4.22 ships gets 'same' padding with strides > 1 wrong and, on ties,
 * routes the gradient to the last maximum of a window; TensorFlow (and tfjs's cpu backend) route it to the first
 * maximum in row-major window order. Here: gather every window's taps, argMax picks the first maximal tap, dy
 * goes to that tap, and the transpose of the window gathering (a depthwise backprop-input with the same
 * tap-selector filter) adds the taps back onto the input grid.
 */

type MaxPoolGradAttrs = {
  filterSize: [number, number] | number;
  strides: [number, number] | number;
  pad: Pad;
  dimRoundingMode?: RoundingMode;
};

/** Lowest finite float32: padding that never wins a max and, unlike -Infinity, stays finite when multiplied by 0. */
const LOWEST_FLOAT32 = -3.4028234663852886e38;

export function maxPoolInputGradient(dy: tf.Tensor4D, x: tf.Tensor4D, a: MaxPoolGradAttrs): tf.Tensor4D {
  const g = tf.backend_util.computePool2DInfo(x.shape, a.filterSize, a.strides, 1, a.pad, a.dimRoundingMode);
  const spec = { strides: a.strides, pad: a.pad, dilations: 1, dimRoundingMode: a.dimRoundingMode };
  const [b, oh, ow, c] = dy.shape;
  const taps = g.filterHeight * g.filterWidth;
  const rows = b * oh * ow * c;
  const route = (windows: tf.Tensor): tf.Tensor => {
    const winner = tf.oneHot(tf.argMax(tf.reshape(windows, [rows, taps]), 1), taps); // first of equal maxima
    return tf.mul(winner, tf.reshape(dy, [rows, 1]));
  };
  if (g.strideHeight === g.filterHeight && g.strideWidth === g.filterWidth) {
    return tiledMaxPoolGradient(x, g, route);
  }
  const windows = tapWindows(x, g, spec, LOWEST_FLOAT32);
  const selector = tapSelectorFilter(g.filterHeight, g.filterWidth, c);
  return depthwiseInputGradient(tf.reshape(route(windows), [b, oh, ow, c * taps]), selector, x.shape, spec);
}

/**
 * Windows that tile the input (stride = pool size, the common 2x2/2 case) are a reshape and a transpose away
 * from [b, oh, ow, c, kh, kw], and the routed gradient goes back the same way: no gathering convolutions.
 */
function tiledMaxPoolGradient(
  x: tf.Tensor4D,
  g: tf.backend_util.Conv2DInfo,
  route: (windows: tf.Tensor) => tf.Tensor,
): tf.Tensor4D {
  const [b, , , c] = x.shape;
  const { outHeight: oh, outWidth: ow, filterHeight: kh, filterWidth: kw } = g;
  const { top, left } = g.padInfo;
  const coverH = oh * kh;
  const coverW = ow * kw;
  // The windows cover rows [-top, coverH - top) of the input: pad or crop it to exactly that.
  const keptH = Math.min(g.inHeight, coverH - top);
  const keptW = Math.min(g.inWidth, coverW - left);
  const kept = cropTo(x, keptH, keptW);
  const padding: Array<[number, number]> = [[0, 0], [top, coverH - top - keptH], [left, coverW - left - keptW], [0, 0]];
  const padded = padding.some(([p, q]) => p || q) ? tf.pad(kept, padding, LOWEST_FLOAT32) : kept;
  const windows = tf.transpose(tf.reshape(padded, [b, oh, kh, ow, kw, c]), [0, 1, 3, 5, 2, 4]);
  const routed = tf.reshape(route(windows), [b, oh, ow, c, kh, kw]);
  const grid = tf.reshape(tf.transpose(routed, [0, 1, 4, 2, 5, 3]), [b, coverH, coverW, c]) as tf.Tensor4D;
  const dx = cropTo(grid, keptH, keptW, top, left);
  if (keptH === g.inHeight && keptW === g.inWidth) return dx;
  // Input rows past the last window get no gradient.
  return tf.pad(dx, [[0, 0], [0, g.inHeight - keptH], [0, g.inWidth - keptW], [0, 0]]);
}

export const maxPoolGradKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'MaxPoolGrad',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as MaxPoolGradAttrs;
    return runComposed(backend, inputs, ['dy', 'input'], (dy, x) =>
      maxPoolInputGradient(dy as tf.Tensor4D, x as tf.Tensor4D, a),
    );
  },
});
