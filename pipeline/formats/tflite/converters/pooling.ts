/**
 * Pooling: MaxPooling2D / AveragePooling2D as MAX_POOL_2D / AVERAGE_POOL_2D (TFLite's SAME, like TF's, ignores
 * padded cells, also when averaging); global pools as MEAN / REDUCE_MAX over the spatial axes.
 */
import type { LayerIR } from '../../../ir.ts';
import { boolOpt, pairOpt, requireChannelsLast } from '../../../onnx/layer-converters/common.ts';
import { pool2d, reduce } from '../ops.ts';
import { tfliteUnsupported, type TfliteLayerConverter } from './common.ts';
import { windowPadding } from './conv.ts';

function windowPool(kind: 'max' | 'average'): TfliteLayerConverter {
  return (ctx) => {
    const { layer } = ctx;
    requireChannelsLast(layer);
    const filter = pairOpt(layer, 'pool_size', [2, 2]);
    // Keras: strides default to the pool size.
    const strides = pairOpt(layer, 'strides', filter);
    return pool2d(ctx.g, kind, ctx.inputs[0]!, filter, { padding: windowPadding(layer), strides }, ctx.out, ctx.outShape);
  };
}

function rejectKeepdims(layer: LayerIR): void {
  // tfjs's global pools have no keepdims; a config asking for it would run differently in tfjs than asked.
  if (boolOpt(layer, 'keepdims', false)) throw tfliteUnsupported(layer, 'keepdims: true', 'tfjs ignores keepdims; remove it and add a Reshape');
}

/** Reduces every axis between the batch and the channels: [1, 2] of NHWC, [1] of [N, steps, C]. */
function globalPool(kind: 'mean' | 'max'): TfliteLayerConverter {
  return (ctx) => {
    requireChannelsLast(ctx.layer);
    rejectKeepdims(ctx.layer);
    const x = ctx.inputs[0]!;
    const axes = x.shape.slice(1, -1).map((_, i) => i + 1);
    return reduce(ctx.g, kind, x, axes, ctx.out, ctx.outShape);
  };
}

export const poolingConverters: Record<string, TfliteLayerConverter> = {
  MaxPooling2D: windowPool('max'),
  AveragePooling2D: windowPool('average'),
  GlobalAveragePooling2D: globalPool('mean'),
  GlobalMaxPooling2D: globalPool('max'),
  GlobalAveragePooling1D: globalPool('mean'),
  GlobalMaxPooling1D: globalPool('max'),
};
