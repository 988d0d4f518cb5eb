/**
 * BatchNormalization in TFLite, where it could not be folded into the Conv/Dense before it (the exporter folds it
 * otherwise): inference-mode BN is y = x·scale + shift per channel, written as one 1×1 DEPTHWISE_CONV_2D (weights =
 * scale, bias = shift) rather than MUL + ADD — one op instead of two, and in int8 the scales quantise per channel
 * with no intermediate tensor to calibrate. Inputs of another rank are viewed as [1, 1, positions, C] around it.
 */
import { tfliteUnsupported, type TfliteConversion, type TfliteConvertContext } from '../../formats/tflite/converter.ts';
import type { TensorRef } from '../../formats/tflite/graph.ts';
import { depthwiseConv2d, reshape, type WindowGeometry } from '../../formats/tflite/ops.ts';
import { batchNormAffine, type BatchNormalizationConfig } from './index.ts';

const UNIT: WindowGeometry = { padding: 'valid', strides: [1, 1], dilation: [1, 1] };

export const batchNormTflite: TfliteConversion<BatchNormalizationConfig> = {
  convert(ctx) {
    const { layer } = ctx;
    const rank = ctx.inputs[0]!.shape.length;
    const axis = layer.config.axis;
    if (axis !== -1 && axis !== rank - 1) {
      throw tfliteUnsupported(layer, `BatchNormalization over axis ${axis} of a rank-${rank} tensor`, 'only the channel (last) axis is supported');
    }
    const { scale, shift } = batchNormAffine(layer);
    return channelAffineTflite(ctx, scale, shift);
  },
};

/** y = x·scale + shift along the last axis (any rank) as one 1×1 DEPTHWISE_CONV_2D; also Rescaling's conversion. */
export function channelAffineTflite(ctx: TfliteConvertContext<any>, scale: Float32Array, shift: Float32Array): TensorRef {
  const { g } = ctx;
  const x = ctx.inputs[0]!;
  const channels = scale.length;
  if (x.shape.length === 4) return depthwiseConv2d(g, x, { values: scale, shape: [1, 1, 1, channels] }, shift, 1, UNIT, ctx.out, ctx.outShape);
  const image = [1, 1, x.shape.slice(1, -1).reduce((a, b) => a * b, 1), channels];
  const x4 = reshape(g, x, { name: `${ctx.out.name}/nhwc` }, image);
  const y4 = depthwiseConv2d(g, x4, { values: scale, shape: [1, 1, 1, channels] }, shift, 1, UNIT, { name: `${ctx.out.name}/affine`, rangeKey: ctx.out.rangeKey ?? ctx.out.name }, image);
  return reshape(g, y4, ctx.out, ctx.outShape);
}
