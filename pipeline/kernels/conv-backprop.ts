import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';
import { tapWindows, type ConvGeometry, type Pad, type RoundingMode, type WindowSpec } from './conv-geometry.ts';

/**
 * Conv2DBackpropFilter for backends that lack it (wasm), composed from ops they run natively. Both the Conv2D
 * gradient and fused conv2d's own gradient (conv → BatchNormalization, conv with bias) call this kernel.
 *
 * dW[i, j, ci, co] = Σ_{b,y,x} x[b, y·s + i·d - pad, x·s + j·d - pad, ci] · dy[b, y, x, co], computed one of two
 * ways (measured on wasm, batch 64):
 * - swapped convolution: with x's batch and channel axes swapped, that sum is itself a convolution in which dy is
 *   the filter, the forward stride becomes the dilation and the forward dilation the stride. 2-3x faster once
 *   there are a few input channels (28x28 16->32: 33 vs 81 ms).
 * - im2col: gather the windows (a native depthwise convolution) and contract them against dy with one matMul.
 *   Faster for 1-3 input channels, e.g. the first layer on greyscale images (28x28 1->32: 2.5 vs 8.5 ms).
 */

/** From this many input channels on, the swapped convolution is the faster way. */
const SWAPPED_CONV_MIN_CHANNELS = 4;

/** Above this many im2col values per chunk we split the batch, to keep the temporary under ~64 MB. */
const MAX_PATCH_VALUES = 16 * 1024 * 1024;

type Conv2DBackpropFilterAttrs = {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: RoundingMode;
  filterShape: [number, number, number, number];
};

export interface FilterGradientOptions {
  /** Default 'auto': the faster one for the channel count (see above). */
  method?: 'auto' | 'im2col' | 'swapped-conv';
  /** im2col splits the batch to keep each chunk's patches below this many values. */
  maxPatchValues?: number;
}

/** The filter gradient of a (non-depthwise) 2-D convolution, NHWC `x` and `dy`; dilation is honoured. */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  spec: WindowSpec,
  opts: FilterGradientOptions = {},
): tf.Tensor4D {
  const g = tf.backend_util.computeConv2DInfo(
    x.shape, filterShape, spec.strides, spec.dilations, spec.pad, spec.dimRoundingMode,
  );
  const stridesAreOne = g.strideHeight === 1 && g.strideWidth === 1;
  const dilationsAreOne = g.dilationHeight === 1 && g.dilationWidth === 1;
  // tfjs convolutions take strides or dilations > 1, not both.
  const swappable = stridesAreOne || dilationsAreOne;
  const method = opts.method ?? 'auto';
  if (method === 'swapped-conv' && !swappable) throw new Error('swapped-conv needs strides or dilations of 1');
  if (method === 'swapped-conv' || (method === 'auto' && swappable && filterShape[2] >= SWAPPED_CONV_MIN_CHANNELS)) {
    return filterGradientBySwappedConv(x, dy, g);
  }
  return filterGradientByIm2col(x, dy, g, spec, opts.maxPatchValues ?? MAX_PATCH_VALUES);
}

function filterGradientBySwappedConv(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D {
  const { filterHeight: kh, filterWidth: kw, inHeight, inWidth } = g;
  const { top, left } = g.padInfo;
  // Pad at least as far as the last tap reaches (rounding modes can leave padInfo short of it).
  const bottom = Math.max(g.padInfo.bottom, (g.outHeight - 1) * g.strideHeight + g.effectiveFilterHeight - top - inHeight);
  const right = Math.max(g.padInfo.right, (g.outWidth - 1) * g.strideWidth + g.effectiveFilterWidth - left - inWidth);
  const channelsAsBatch = tf.transpose(x, [3, 1, 2, 0]); // [ci, h, w, b]
  const dyAsFilter = tf.transpose(dy, [1, 2, 0, 3]); // [oh, ow, b, co]
  const swapped = tf.conv2d(
    channelsAsBatch,
    dyAsFilter,
    [g.dilationHeight, g.dilationWidth],
    [[0, 0], [top, bottom], [left, right], [0, 0]],
    'NHWC',
    [g.strideHeight, g.strideWidth],
  ); // [ci, >= kh, >= kw, co]
  const [inC, , , outC] = swapped.shape;
  const taps = tf.slice(swapped, [0, 0, 0, 0], [inC, kh, kw, outC]);
  return tf.transpose(taps, [1, 2, 0, 3]);
}

function filterGradientByIm2col(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  g: ConvGeometry,
  spec: WindowSpec,
  maxPatchValues: number,
): tf.Tensor4D {
  const [kh, kw, inC, outC] = g.filterShape;
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
      const grads = tf.reshape(ds, [rows, outC]);
      // Contract over rows; the contraction transposes one operand (see matmul-transpose.ts), so pick the smaller.
      return outC < patchWidth
        ? tf.transpose(tf.matMul(grads, patches, true, false))
        : tf.matMul(patches, grads, true, false);
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
