/**
 * Layers that move data: Flatten and Reshape (RESHAPE — no transposes: TFLite is NHWC, the Keras element order),
 * ZeroPadding2D (PAD), Cropping2D (SLICE), UpSampling2D (RESIZE_*), and the inference no-ops (Dropout and friends).
 */
import type { Cropping2DConfig, UpSampling2DConfig, ZeroPadding2DConfig } from '../../../layers/resampling/index.ts';
import { pad, reshape, resize, slice } from '../ops.ts';
import type { TfliteLayerConverter } from './common.ts';

const toOutputShape: TfliteLayerConverter = (ctx) => reshape(ctx.g, ctx.inputs[0]!, ctx.out, ctx.outShape);

const zeroPadding2d: TfliteLayerConverter<ZeroPadding2DConfig> = (ctx) => {
  const [[top, bottom], [left, right]] = ctx.layer.config.padding;
  return pad(ctx.g, ctx.inputs[0]!, [[0, 0], [top, bottom], [left, right], [0, 0]], ctx.out, ctx.outShape);
};

const cropping2d: TfliteLayerConverter<Cropping2DConfig> = (ctx) => {
  const [[top], [left]] = ctx.layer.config.cropping;
  return slice(ctx.g, ctx.inputs[0]!, [0, top, left, 0], ctx.out, ctx.outShape);
};

/** tfjs resizes without corner alignment or half-pixel centres: TFLite's RESIZE_* with both options off. */
const upSampling2d: TfliteLayerConverter<UpSampling2DConfig> = (ctx) => {
  return resize(ctx.g, ctx.layer.config.interpolation, ctx.inputs[0]!, ctx.out, ctx.outShape);
};

/** Dropout-style layers do nothing at inference: the layer's output is its input tensor. */
const passThrough: TfliteLayerConverter = (ctx) => ctx.inputs[0]!;

export const PASS_THROUGH_CLASSES = ['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianDropout', 'GaussianNoise', 'AlphaDropout'] as const;

export const reshapingConverters: Record<string, TfliteLayerConverter<any>> = {
  Flatten: toOutputShape,
  Reshape: toOutputShape,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  UpSampling2D: upSampling2d,
  ...Object.fromEntries(PASS_THROUGH_CLASSES.map((c) => [c, passThrough])),
};
