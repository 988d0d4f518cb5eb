/**
 * Pooling in TFLite: MaxPooling2D / AveragePooling2D as MAX_POOL_2D / AVERAGE_POOL_2D (TFLite's SAME, like TF's,
 * ignores padded cells, also when averaging); global pools as MEAN / REDUCE_MAX over the axes between the batch and
 * the channels ([1, 2] of NHWC, [1] of [N, steps, C]).
 */
import type { TfliteConversion } from '../../formats/tflite/converter.ts';
import { pool2d, reduce } from '../../formats/tflite/ops.ts';
import type { GlobalPoolConfig, Pool2DConfig } from './index.ts';

/** (The typed config has the strides defaulted to the pool size, TF padding, channels_last.) */
export function windowPoolTflite(kind: 'max' | 'average'): TfliteConversion<Pool2DConfig> {
  return {
    convert(ctx) {
      const { poolSize, strides, padding } = ctx.layer.config;
      return pool2d(ctx.g, kind, ctx.inputs[0]!, [...poolSize], { padding, strides: [...strides] }, ctx.out, ctx.outShape);
    },
  };
}

/** (keepdims is refused when the layer is read.) */
export function globalPoolTflite(kind: 'mean' | 'max'): TfliteConversion<GlobalPoolConfig> {
  return {
    convert(ctx) {
      const x = ctx.inputs[0]!;
      return reduce(ctx.g, kind, x, x.shape.slice(1, -1).map((_, i) => i + 1), ctx.out, ctx.outShape);
    },
  };
}
