/**
 * Resampling in TFLite: ZeroPadding2D as PAD (int8 pads with the zero point, i.e. real 0), Cropping2D as SLICE,
 * UpSampling2D as RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR without corner alignment or half-pixel centres, which
 * is how tfjs resizes.
 */
import type { TfliteConversion } from '../../formats/tflite/converter.ts';
import { pad, resize, slice } from '../../formats/tflite/ops.ts';
import type { Cropping2DConfig, UpSampling2DConfig, ZeroPadding2DConfig } from './index.ts';

export const zeroPadding2dTflite: TfliteConversion<ZeroPadding2DConfig> = {
  convert(ctx) {
    const [[top, bottom], [left, right]] = ctx.layer.config.padding;
    return pad(ctx.g, ctx.inputs[0]!, [[0, 0], [top, bottom], [left, right], [0, 0]], ctx.out, ctx.outShape);
  },
};

export const cropping2dTflite: TfliteConversion<Cropping2DConfig> = {
  convert(ctx) {
    const [[top], [left]] = ctx.layer.config.cropping;
    return slice(ctx.g, ctx.inputs[0]!, [0, top, left, 0], ctx.out, ctx.outShape);
  },
};

export const upSampling2dTflite: TfliteConversion<UpSampling2DConfig> = {
  convert: (ctx) => resize(ctx.g, ctx.layer.config.interpolation, ctx.inputs[0]!, ctx.out, ctx.outShape),
};
