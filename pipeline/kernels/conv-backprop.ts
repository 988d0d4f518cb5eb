import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { tapWindows, type Pad, type RoundingMode, type WindowSpec } from './conv-geometry.ts';

/**
 * Conv2DBackpropFilter for backends that lack it (wasm), composed from ops they run natively.
 *
 * dW[i, j, ci, co] = Σ_{b,y,x} window_ij[b, y, x, ci] · dy[b, y, x, co]: gather the windows (im2col, as a native
 * depthwise convolution) and contract them against dy with one matMul. Both the Conv2D gradient and fused
 * conv2d's own gradient (conv → BatchNormalization, conv with bias) call this kernel directly.
 */

/** Above this many im2col values per chunk we split the batch, to keep the temporary under ~64 MB. */
const MAX_PATCH_VALUES = 16 * 1024 * 1024;

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: RoundingMode;
  filterShape: [number, number, number, number];
};

/** The filter gradient of a (non-depthwise) 2-D convolution, NHWC `x` and `dy`; dilation is honoured. */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  spec: WindowSpec,
  maxPatchValues = MAX_PATCH_VALUES,
): tf.Tensor4D {
  const g = tf.backend_util.computeConv2DInfo(
    x.shape, filterShape, spec.strides, spec.dilations, spec.pad, spec.dimRoundingMode,
  );
  const [kh, kw, inC, outC] = filterShape;
  const batch = x.shape[0];
  const rowsPerSample = g.outHeight * g.outWidth;
  const patchWidth = kh * kw * inC;
  const chunk = Math.max(1, Math.floor(maxPatchValues / Math.max(1, rowsPerSample * patchWidth)));

  let sum: tf.Tensor | undefined;
  for (let start = 0; start < batch; start += chunk) {
    const size = Math.min(chunk, batch - start);
    const part = tf.tidy(() => {
      const xs = size === batch ? x : tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
      const ds = size === batch ? dy : tf.slice(dy, [start, 0, 0, 0], [size, -1, -1, -1]);
      const rows = size * rowsPerSample;
      // Patch columns come out channel-major (ci·kh·kw + tap).
      const patches = tf.reshape(tapWindows(xs, g, spec), [rows, patchWidth]);
      return tf.matMul(patches, tf.reshape(ds, [rows, outC]), true, false);
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
  return tf.transpose(tf.reshape(sum!, [inC, kh, kw, outC]), [1, 2, 0, 3]);
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
      const spec = { strides: a.strides, pad, dilations: 1, dimRoundingMode: a.dimRoundingMode };
      return conv2dFilterGradient(x4, dy4, a.filterShape, spec);
    });
  },
});
