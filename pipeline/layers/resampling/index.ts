/**
 * The resampling family: layers that pad, crop or repeat along the spatial axes and leave channels alone —
 * ZeroPadding2D, Cropping2D, UpSampling1D, UpSampling2D (channels_last). Channels pass through all of them; MACs
 * are 0. tfjs has no UpSampling1D (Keras models have it); a model using it runs on onnxruntime, not tfjs.
 */
import { onnxAxis } from '../../onnx/builder.ts';
import { badValue, channelsLast, custom, int, oneOf, type Field } from '../config.ts';
import { heldDims, repeatAlong, resize, upSampling1dRule, upSampling2dNearestRule } from './train.ts';
import { inputOfRank, invalid, noWeights, passChannels } from '../shared.ts';
import { defineLayer, type LayerConfig } from '../types.ts';
import { cropping2dTflite, upSampling2dTflite, zeroPadding2dTflite } from './tflite.ts';
import { cropping2dRule, zeroPadding2dRule } from './padding-train.ts';

/** [[top, bottom], [left, right]] */
export type Sides = [[number, number], [number, number]];

export interface ZeroPadding2DConfig extends LayerConfig {
  padding: Sides;
  dataFormat: 'channels_last';
}

export interface Cropping2DConfig extends LayerConfig {
  cropping: Sides;
  dataFormat: 'channels_last';
}

export interface UpSampling1DConfig extends LayerConfig {
  /** Each step repeated this many times (Keras's K.repeat_elements along the steps). */
  size: number;
}

export interface UpSampling2DConfig extends LayerConfig {
  size: [number, number];
  interpolation: 'nearest' | 'bilinear';
  dataFormat: 'channels_last';
}

const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
const isPair = (x: unknown): x is [number, number] => Array.isArray(x) && x.length === 2 && x.every(isCount);

/**
 * Keras ZeroPadding2D/Cropping2D amounts: n, [h, w] (symmetric per axis) or [[top, bottom], [left, right]], all
 * non-negative integers. `fallback` when absent (ZeroPadding2D's default is 1; Cropping2D has none in tfjs).
 */
function sides(key: string, fallback?: number): Field<Sides> {
  return custom(key, (v, ctx) => {
    if ((v === undefined || v === null) && fallback !== undefined) return [[fallback, fallback], [fallback, fallback]];
    if (isCount(v)) return [[v, v], [v, v]];
    if (Array.isArray(v) && v.length === 2) {
      const [h, w] = v;
      if (isCount(h) && isCount(w)) return [[h, h], [w, w]];
      if (isPair(h) && isPair(w)) return [[h[0], h[1]], [w[0], w[1]]];
    }
    throw badValue(ctx, 'n, [h, w] or [[top, bottom], [left, right]] of non-negative integers', v);
  }, (v) => v.map((p) => [...p]));
}

const upSize = custom<[number, number]>('size', (v, ctx) => {
  if (v === undefined || v === null) return [2, 2];
  // tfjs reads size[0] and size[1]: a bare number would give it NaN sizes.
  if (!Array.isArray(v) || v.length !== 2 || !v.every((d) => typeof d === 'number' && Number.isInteger(d) && d >= 1)) {
    throw badValue(ctx, 'a pair [rows, cols] of positive integers', v);
  }
  return [v[0] as number, v[1] as number];
}, (v) => [...v]);

export const zeroPadding2d = defineLayer<ZeroPadding2DConfig>({
  className: 'ZeroPadding2D',
  family: 'resampling',
  arity: 'one',
  fields: { padding: sides('padding', 1), dataFormat: channelsLast() },
  weights: noWeights,
  outputShape(layer, inputs) {
    const [h, w, c] = inputOfRank(layer, inputs, 3);
    const [[t, b], [l, r]] = layer.config.padding;
    return [h! + t + b, w! + l + r, c!];
  },
  channels: passChannels,
  onnx({ b, layer, inputs }) {
    const x = inputs[0]!;
    const [[top, bottom], [left, right]] = layer.config.padding;
    // ONNX pads: all begins, then all ends, in the tensor's own axis order.
    const pads = x.layout === 'nchw' ? [0, 0, top, left, 0, 0, bottom, right] : [0, top, left, 0, 0, bottom, right, 0];
    const padsName = b.int64Const(`${layer.name}/pads`, pads);
    // Pad with -0.0, not 0: equal in every later op, but it stops onnxruntime's PadFusion (which checks for
    // all-zero bytes) from folding the Pad into a following MaxPool/AveragePool's own pads — those ignore
    // padded cells, so the fused graph computes something else (onnxruntime pad_fusion.cc; onnxsim#290).
    const negativeZero = b.floatConst(`${layer.name}/value`, [], [-0]);
    return { name: b.op('Pad', [x.name, padsName, negativeZero], { mode: { s: 'constant' } }, `${layer.name}/pad`), layout: x.layout };
  },
  ort: zeroPadding2dRule,
  tflite: zeroPadding2dTflite,
});

export const cropping2d = defineLayer<Cropping2DConfig>({
  className: 'Cropping2D',
  family: 'resampling',
  arity: 'one',
  fields: { cropping: sides('cropping'), dataFormat: channelsLast() },
  weights: noWeights,
  outputShape(layer, inputs) {
    const [h, w, c] = inputOfRank(layer, inputs, 3);
    const [[t, b], [l, r]] = layer.config.cropping;
    if (h! - t - b <= 0 || w! - l - r <= 0) throw invalid(layer, `crops [${inputs[0]}] to nothing`);
    return [h! - t - b, w! - l - r, c!];
  },
  channels: passChannels,
  /** Slice with negative ends counts from the far edge, so no input size is needed. */
  onnx({ b, layer, inputs }) {
    const x = inputs[0]!;
    const [[top, bottom], [left, right]] = layer.config.cropping;
    const toEnd = Number.MAX_SAFE_INTEGER; // ONNX clamps ends to the dimension
    const axes = [onnxAxis(1, 4, x.layout), onnxAxis(2, 4, x.layout)];
    const starts = b.int64Const(`${layer.name}/starts`, [top, left]);
    const ends = b.int64Const(`${layer.name}/ends`, [bottom ? -bottom : toEnd, right ? -right : toEnd]);
    const axesName = b.int64Const(`${layer.name}/axes`, axes);
    return { name: b.op('Slice', [x.name, starts, ends, axesName], {}, `${layer.name}/crop`), layout: x.layout };
  },
  ort: cropping2dRule,
  tflite: cropping2dTflite,
});

export const upSampling2d = defineLayer<UpSampling2DConfig>({
  className: 'UpSampling2D',
  family: 'resampling',
  arity: 'one',
  fields: { size: upSize, interpolation: oneOf('interpolation', ['nearest', 'bilinear'], 'nearest'), dataFormat: channelsLast() },
  weights: noWeights,
  outputShape(layer, inputs) {
    const [h, w, c] = inputOfRank(layer, inputs, 3);
    const [fh, fw] = layer.config.size;
    return [h! * fh, w! * fw, c!];
  },
  channels: passChannels,
  onnx: ({ b, layer, inputs }) => ({ name: resize(b, layer, inputs[0]!), layout: 'nchw' }),
  ort: upSampling2dNearestRule,
  tflite: upSampling2dTflite,
});

export const upSampling1d = defineLayer<UpSampling1DConfig>({
  className: 'UpSampling1D',
  family: 'resampling',
  arity: 'one',
  fields: { size: int('size', { default: 2 }) },
  weights: noWeights,
  outputShape(layer, inputs) {
    const [steps, c] = inputOfRank(layer, inputs, 2);
    return [steps! * layer.config.size, c!];
  },
  channels: passChannels,
  onnx({ b, layer, inputs }) {
    const x = inputs[0]!;
    return { name: repeatAlong(b, `${layer.name}/repeat`, x.name, heldDims(x), onnxAxis(1, 3, x.layout), layer.config.size), layout: x.layout };
  },
  ort: upSampling1dRule,
});

export const resamplingLayers = { ZeroPadding2D: zeroPadding2d, Cropping2D: cropping2d, UpSampling1D: upSampling1d, UpSampling2D: upSampling2d };
