/**
 * Pooling: MaxPooling2D / AveragePooling2D as MAX_POOL_2D / AVERAGE_POOL_2D (TFLite's SAME, like TF's, ignores
 * padded cells, also when averaging); global pools as MEAN / REDUCE_MAX over the spatial axes.
 */
import type { Pool2DConfig } from '../../../layers/pooling/index.ts';
import { pool2d, reduce } from '../ops.ts';
import type { TfliteLayerConverter } from './common.ts';

/** (The typed config has the strides defaulted to the pool size, TF padding, channels_last.) */
function windowPool(kind: 'max' | 'average'): TfliteLayerConverter<Pool2DConfig> {
  return (ctx) => {
    const { poolSize, strides, padding } = ctx.layer.config;
    return pool2d(ctx.g, kind, ctx.inputs[0]!, [...poolSize], { padding, strides: [...strides] }, ctx.out, ctx.outShape);
  };
}

/** Reduces every axis between the batch and the channels: [1, 2] of NHWC, [1] of [N, steps, C]. (keepdims is refused when read.) */
function globalPool(kind: 'mean' | 'max'): TfliteLayerConverter {
  return (ctx) => {
    const x = ctx.inputs[0]!;
    const axes = x.shape.slice(1, -1).map((_, i) => i + 1);
    return reduce(ctx.g, kind, x, axes, ctx.out, ctx.outShape);
  };
}

export const poolingConverters: Record<string, TfliteLayerConverter<any>> = {
  MaxPooling2D: windowPool('max'),
  AveragePooling2D: windowPool('average'),
  GlobalAveragePooling2D: globalPool('mean'),
  GlobalMaxPooling2D: globalPool('max'),
  GlobalAveragePooling1D: globalPool('mean'),
  GlobalMaxPooling1D: globalPool('max'),
};
