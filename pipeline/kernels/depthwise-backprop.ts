import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { cropTo, insertStrideZeros, tapWindows, transposedPadding, type WindowSpec } from './conv-geometry.ts';

/**
 * The two depthwise-convolution gradient kernels wasm lacks, composed from ops it runs natively. Layout as in
 * tfjs: x [b, h, w, c], filter [kh, kw, c, m], dy [b, oh, ow, c·m] with output channel c·m + k fed by input
 * channel c. Dilation is honoured (tfjs's own gradient functions refuse dilation > 1, but the kernels need not).
 */

/** dW[i, j, c, k] = Σ_{b,y,x} window_ij[b, y, x, c] · dy[b, y, x, c·m + k]: one matMul per channel, batched. */
export function depthwiseFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  spec: WindowSpec,
): tf.Tensor4D {
  const g = tf.backend_util.computeConv2DInfo(
    x.shape, filterShape, spec.strides, spec.dilations, spec.pad, spec.dimRoundingMode, true,
  );
  const [kh, kw, channels, multiplier] = filterShape;
  const taps = kh * kw;
  const rows = x.shape[0] * g.outHeight * g.outWidth;
  const windows = tf.transpose(tf.reshape(tapWindows(x, g, spec), [rows, channels, taps]), [1, 2, 0]);
  const grads = tf.transpose(tf.reshape(dy, [rows, channels, multiplier]), [1, 0, 2]);
  const perChannel = tf.matMul(windows, grads); // [c, taps, m]
  return tf.transpose(tf.reshape(perChannel, [channels, kh, kw, multiplier]), [1, 2, 0, 3]);
}

/**
 * dx is the transposed depthwise convolution: spread dy onto the stride-1 grid, correlate each of the c·m
 * channels with its own 180°-rotated filter slice (a depthwise conv with multiplier 1, same dilation), then add
 * up the m channels that came from each input channel.
 */
export function depthwiseInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  spec: WindowSpec,
): tf.Tensor4D {
  const g = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape, spec.strides, spec.dilations, spec.pad, spec.dimRoundingMode, true,
  );
  const [kh, kw, channels, multiplier] = filter.shape;
  const spread = insertStrideZeros(dy, g.strideHeight, g.strideWidth);
  const ph = transposedPadding(g.inHeight, spread.shape[1], g.effectiveFilterHeight, g.padInfo.top);
  const pw = transposedPadding(g.inWidth, spread.shape[2], g.effectiveFilterWidth, g.padInfo.left);
  const rotated = tf.reshape(tf.reverse(filter, [0, 1]), [kh, kw, channels * multiplier, 1]);
  const full = tf.depthwiseConv2d(
    spread,
    rotated as tf.Tensor4D,
    1,
    [[0, 0], [ph.before, ph.after], [pw.before, pw.after], [0, 0]],
    'NHWC',
    [g.dilationHeight, g.dilationWidth],
  );
  const dx = cropTo(full, g.inHeight, g.inWidth, ph.drop, pw.drop);
  if (multiplier === 1) return dx;
  const [b, h, w] = dx.shape;
  return tf.sum(tf.reshape(dx, [b, h, w, channels, multiplier]), 4);
}


export const depthwiseBackpropFilterKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'DepthwiseConv2dNativeBackpropFilter',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as WindowSpec & { filterShape: [number, number, number, number] };
    return runComposed(backend, inputs, ['x', 'dy'], (x, dy) =>
      depthwiseFilterGradient(x as tf.Tensor4D, dy as tf.Tensor4D, a.filterShape, a),
    );
  },
});

export const depthwiseBackpropInputKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'DepthwiseConv2dNativeBackpropInput',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as WindowSpec & { inputShape: [number, number, number, number] };
    return runComposed(backend, inputs, ['dy', 'filter'], (dy, filter) =>
      depthwiseInputGradient(dy as tf.Tensor4D, filter as tf.Tensor4D, a.inputShape, a),
    );
  },
});
