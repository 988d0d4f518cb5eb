import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { filterTapWindows } from './conv-geometry.ts';

/**
 * Conv2DBackpropFilter for backends that lack it (wasm), composed from ops they run natively.
 *
 * dW[i, j, ci, co] = Σ_{b,y,x} window_ij[b, y, x, ci] · dy[b, y, x, co]: lay the tap windows side by side
 * (im2col, [rows, taps·inChannels]) and contract the rows against dy with one matMul. The tfjs gradients of
 * Conv2D and of fused conv2d (conv → BatchNormalization, conv with bias) call this kernel directly.
 */

/** Above this many im2col values per chunk we split the batch, to keep the temporary under ~64 MB. */
const MAX_PATCH_VALUES = 16 * 1024 * 1024;

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape: [number, number, number, number];
};

/** The filter gradient of a (non-depthwise) 2-D convolution, NHWC `x` and `dy`; dilation is honoured. */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number] | number,
  pad: Conv2DBackpropFilterAttrs['pad'],
  dilations: [number, number] | number = 1,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
): tf.Tensor4D {
  const g = tf.backend_util.computeConv2DInfo(x.shape, filterShape, strides, dilations, pad, dimRoundingMode);
  const [kh, kw, inC, outC] = filterShape;
  const batch = x.shape[0];
  const rowsPerSample = g.outHeight * g.outWidth;
  const patchWidth = kh * kw * inC;
  const chunk = Math.max(1, Math.floor(MAX_PATCH_VALUES / Math.max(1, rowsPerSample * patchWidth)));

  let sum: tf.Tensor | undefined;
  for (let start = 0; start < batch; start += chunk) {
    const size = Math.min(chunk, batch - start);
    const part = tf.tidy(() => {
      const xs = size === batch ? x : tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
      const ds = size === batch ? dy : tf.slice(dy, [start, 0, 0, 0], [size, -1, -1, -1]);
      const windows = filterTapWindows(xs, g);
      const patches = windows.length === 1 ? windows[0] : tf.concat(windows, 3);
      const rows = size * rowsPerSample;
      return tf.matMul(tf.reshape(patches, [rows, patchWidth]), tf.reshape(ds, [rows, outC]), true, false);
    });
    if (sum) {
      const next = tf.add(sum, part);
      sum.dispose();
      part.dispose();
      sum = next;
    } else {
      sum = part;
    }
  }
  return tf.reshape(sum!, filterShape) as tf.Tensor4D;
}

export const conv2dBackpropFilterKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'Conv2DBackpropFilter',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const a = attrs as unknown as Conv2DBackpropFilterAttrs;
    return runComposed(backend, inputs, ['x', 'dy'], (x, dy) => {
      let x4 = x as tf.Tensor4D;
      let dy4 = dy as tf.Tensor4D;
      let pad = a.pad;
      if (a.dataFormat === 'NCHW') {
        x4 = tf.transpose(x4, [0, 2, 3, 1]);
        dy4 = tf.transpose(dy4, [0, 2, 3, 1]);
        // Explicit padding is listed per axis in the tensor's own order.
        if (Array.isArray(pad)) pad = [pad[0], pad[2], pad[3], pad[1]];
      }
      return conv2dFilterGradient(x4, dy4, a.filterShape, a.strides, pad, 1, a.dimRoundingMode);
    });
  },
});
