import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { cropTo, insertStrideZeros, transposedPadding, type Pad, type RoundingMode, type WindowSpec } from './conv-geometry.ts';

/**
 * Conv2DBackpropInput for wasm. wasm ships one, but it is a plain loop ~10x slower than the forward convolution
 * (batch 64, 14x14 64->64: 356 ms against 32 ms), and it is on every training step of every conv layer but the
 * first. The input gradient is the transposed convolution: spread dy onto the stride-1 grid, then correlate it
 * with the filter rotated 180° and its channel axes swapped: one native convolution.
 */

type Conv2DBackpropInputAttrs = {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: RoundingMode;
  inputShape: [number, number, number, number];
};

/** dx of a (non-depthwise) 2-D convolution with NHWC `dy`; dilation is honoured. */
export function conv2dInputGradient(
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  inputShape: [number, number, number, number],
  spec: WindowSpec,
): tf.Tensor4D {
  const g = tf.backend_util.computeConv2DInfo(
    inputShape, filter.shape, spec.strides, spec.dilations, spec.pad, spec.dimRoundingMode,
  );
  const spread = insertStrideZeros(dy, g.strideHeight, g.strideWidth);
  const ph = transposedPadding(g.inHeight, spread.shape[1], g.effectiveFilterHeight, g.padInfo.top);
  const pw = transposedPadding(g.inWidth, spread.shape[2], g.effectiveFilterWidth, g.padInfo.left);
  const transposed = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D; // [kh, kw, out, in]
  const full = tf.conv2d(
    spread,
    transposed,
    1,
    [[0, 0], [ph.before, ph.after], [pw.before, pw.after], [0, 0]],
    'NHWC',
    [g.dilationHeight, g.dilationWidth],
  );
  return cropTo(full, g.inHeight, g.inWidth, ph.drop, pw.drop);
}

export const conv2dBackpropInputKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'Conv2DBackpropInput',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as Conv2DBackpropInputAttrs;
    return runComposed(backend, inputs, ['dy', 'filter'], (dy, filter) => {
      const spec = { strides: a.strides, pad: a.pad, dilations: 1, dimRoundingMode: a.dimRoundingMode };
      if (a.dataFormat !== 'NCHW') return conv2dInputGradient(dy as tf.Tensor4D, filter as tf.Tensor4D, a.inputShape, spec);
      const [b, c, h, w] = a.inputShape;
      const pad = Array.isArray(a.pad) ? [a.pad[0], a.pad[2], a.pad[3], a.pad[1]] as tf.backend_util.ExplicitPadding : a.pad;
      const dyNhwc = tf.transpose(dy, [0, 2, 3, 1]) as tf.Tensor4D;
      const dx = conv2dInputGradient(dyNhwc, filter as tf.Tensor4D, [b, h, w, c], { ...spec, pad });
      return tf.transpose(dx, [0, 3, 1, 2]);
    });
  },
});
