/**
 * The activation layers in TFLite (formats/tflite/activations.ts maps the functions). ReLU/ReLU6 fuse into the op
 * before them when nothing else reads its output; a linear Activation is no op at all.
 */
import { applyActivation } from '../../formats/tflite/activations.ts';
import { tfliteUnsupported, type TfliteConversion } from '../../formats/tflite/converter.ts';
import { leakyRelu, unary } from '../../formats/tflite/ops.ts';
import type { ActivationConfig, ELUConfig, LeakyReLUConfig, ReLUConfig, SoftmaxConfig } from './index.ts';

export const activationTflite: TfliteConversion<ActivationConfig> = {
  convert: (ctx) => applyActivation(ctx.g, ctx.layer, ctx.inputs[0]!, ctx.layer.config.activation, ctx.out, ctx.ownsInput),
  identity: (config) => config.activation === 'linear',
};

/** tfjs ReLU layer: relu, clipped at max_value when set (6 is ReLU6; other caps have no TFLite op). */
export const reluTflite: TfliteConversion<ReLUConfig> = {
  convert(ctx) {
    const { layer } = ctx;
    const maxValue = layer.config.maxValue;
    if (maxValue === undefined) return applyActivation(ctx.g, layer, ctx.inputs[0]!, 'relu', ctx.out, ctx.ownsInput);
    if (maxValue === 6) return applyActivation(ctx.g, layer, ctx.inputs[0]!, 'relu6', ctx.out, ctx.ownsInput);
    throw tfliteUnsupported(layer, `ReLU with max_value ${String(maxValue)}`, 'TFLite has ReLU and ReLU6 only; use max_value 6 or none');
  },
};

export const leakyReluTflite: TfliteConversion<LeakyReLUConfig> = {
  convert: (ctx) => leakyRelu(ctx.g, ctx.inputs[0]!, ctx.layer.config.alpha, ctx.out),
};

/** (An ELU's alpha is 1: tfjs implements no other, and the layer is refused when read otherwise.) */
export const eluTflite: TfliteConversion<ELUConfig> = {
  convert: (ctx) => unary(ctx.g, 'elu', ctx.inputs[0]!, ctx.out),
};

/** tfjs Softmax layer: axis defaults to 1 (a Keras axis, batch counted); TFLite's softmax works on the last axis. */
export const softmaxTflite: TfliteConversion<SoftmaxConfig> = {
  convert(ctx) {
    const x = ctx.inputs[0]!;
    const axis = ctx.layer.config.axis;
    const rank = x.shape.length;
    if (axis !== -1 && axis !== rank - 1) {
      throw tfliteUnsupported(ctx.layer, `softmax over axis ${axis} of a rank-${rank} tensor`, 'TFLite applies softmax on the last axis');
    }
    return unary(ctx.g, 'softmax', x, ctx.out);
  },
};
