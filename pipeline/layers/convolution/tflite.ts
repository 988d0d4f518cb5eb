/**
 * Conv2D, DepthwiseConv2D and SeparableConv2D in TFLite. TFLite is NHWC like Keras, so only kernels are reordered:
 * Conv2D [kh, kw, in, out] → OHWI [out, kh, kw, in]; DepthwiseConv2D [kh, kw, C, m] → [1, kh, kw, C·m] (the same
 * memory order: output channel c·m + j, as TF computes it); Conv2DTranspose [kh, kw, out, in] → TRANSPOSE_CONV's
 * [out, kh, kw, in], its activation a separate op. TF's 'same' padding is TFLite's SAME.
 */
import { withActivation } from '../../formats/tflite/activations.ts';
import { biasOrZeros, tfliteUnsupported, type TfliteConversion } from '../../formats/tflite/converter.ts';
import { conv2d, depthwiseConv2d, transposeConv2d, unary, type WindowGeometry } from '../../formats/tflite/ops.ts';
import { separableDepthwiseKey, type LayerIR } from '../../ir.ts';
import { kernelOf, type Kernel } from '../../formats/tflite/kernels.ts';
import { requireWeight } from '../../onnx/converter.ts';
import type { Conv2DBase, Conv2DConfig, Conv2DTransposeConfig, DepthwiseConv2DConfig, SeparableConv2DConfig } from './config.ts';

/** The typed config's geometry (padding is 'same' or 'valid', channels_last: checked when the layer was read). */
function geometry(layer: LayerIR<Conv2DBase & { dilationRate: [number, number] }>): WindowGeometry {
  return { padding: layer.config.padding, strides: [...layer.config.strides], dilation: [...layer.config.dilationRate] };
}

function bias(layer: LayerIR<Conv2DBase>, channels: number): Float32Array {
  return biasOrZeros(layer.config.useBias ? requireWeight(layer, 'bias').values : undefined, channels);
}

/** Keras [kh, kw, in, out] → TFLite OHWI. */
const OHWI = { perm: [3, 0, 1, 2] };

export const conv2dTflite: TfliteConversion<Conv2DConfig> = {
  convert(ctx) {
    const { layer } = ctx;
    const geo = geometry(layer);
    const k = kernelOf(requireWeight(layer, 'kernel'), OHWI);
    const b = bias(layer, k.shape[0]!);
    return withActivation(ctx, (out, fused) => conv2d(ctx.g, ctx.inputs[0]!, k, b, geo, out, ctx.outShape, fused));
  },
};

function depthwiseKernel(layer: LayerIR): { kernel: Kernel; multiplier: number } {
  const w = requireWeight(layer, 'depthwise_kernel');
  const [kh, kw, c, m] = w.shape as [number, number, number, number];
  return { kernel: kernelOf(w, { dims: [1, kh, kw, c * m] }), multiplier: m };
}

function depthwiseGeometry(layer: LayerIR<DepthwiseConv2DConfig | SeparableConv2DConfig>): WindowGeometry {
  const geo = geometry(layer);
  // tfjs's DepthwiseConv2D ignores dilation_rate, so such a model means one thing in Keras and another in tfjs.
  if (layer.className === 'DepthwiseConv2D' && (geo.dilation[0] !== 1 || geo.dilation[1] !== 1)) {
    throw tfliteUnsupported(layer, `DepthwiseConv2D with dilation_rate [${geo.dilation}]`, 'tfjs ignores dilation in DepthwiseConv2D; use dilation 1 or a SeparableConv2D');
  }
  return geo;
}

export const depthwiseTflite: TfliteConversion<DepthwiseConv2DConfig> = {
  convert(ctx) {
    const { layer } = ctx;
    const geo = depthwiseGeometry(layer);
    const { kernel, multiplier } = depthwiseKernel(layer);
    const b = bias(layer, kernel.shape[3]!);
    return withActivation(ctx, (out, fused) => depthwiseConv2d(ctx.g, ctx.inputs[0]!, kernel, b, multiplier, geo, out, ctx.outShape, fused));
  },
};

/**
 * Depthwise (the layer's strides, padding, dilation; no bias) then a 1×1 conv carrying the bias and activation. The
 * depthwise output is its own tensor, `<layer>/depthwise` (calibrated as such for int8).
 */
export const separableTflite: TfliteConversion<SeparableConv2DConfig> = {
  convert(ctx) {
    const { layer, g } = ctx;
    const geo = depthwiseGeometry(layer);
    const dw = depthwiseKernel(layer);
    const channels = dw.kernel.shape[3]!;
    const [, h, w] = ctx.outShape as [number, number, number, number];
    const name = separableDepthwiseKey(layer.name);
    const depthwise = depthwiseConv2d(g, ctx.inputs[0]!, dw.kernel, new Float32Array(channels), dw.multiplier, geo, { name }, [1, h, w, channels]);
    const k = kernelOf(requireWeight(layer, 'pointwise_kernel'), OHWI);
    const b = bias(layer, k.shape[0]!);
    const unit: WindowGeometry = { padding: 'valid', strides: [1, 1], dilation: [1, 1] };
    return withActivation(ctx, (out, fused) => conv2d(g, depthwise, k, b, unit, out, ctx.outShape, fused));
  },
};

export const conv2dTransposeTflite: TfliteConversion<Conv2DTransposeConfig> = {
  convert(ctx) {
    const { layer, g } = ctx;
    const k = kernelOf(requireWeight(layer, 'kernel'), { perm: [2, 0, 1, 3] });
    const b = bias(layer, k.shape[0]!);
    const geo = { padding: layer.config.padding, strides: [...layer.config.strides] as [number, number] };
    return withActivation(ctx, (out, fused) => {
      if (fused === 'none') return transposeConv2d(g, ctx.inputs[0]!, k, b, geo, out, ctx.outShape);
      // ReLU/ReLU6 as their own op; in int8 the convolution's output takes the activated range (what the ReLU clips
      // away is lost either way).
      const pre = transposeConv2d(g, ctx.inputs[0]!, k, b, geo, { name: `${out.name}/preactivation`, rangeKey: out.rangeKey ?? out.name }, ctx.outShape);
      return unary(g, fused, pre, out);
    });
  },
};
