/**
 * The pooling family: Max/AveragePooling1D/2D and GlobalAverage/MaxPooling1D/2D (channels_last). Channels pass
 * through every pool; MACs are 0. ONNX: window pools as MaxPool/AveragePool on NCHW (TF's 'same' average counts only
 * real cells: count_include_pad 0), global pools as reductions over the spatial axes of whatever layout the input is
 * in. tfjs's global pools have no `keepdims`: a config asking for it is refused, since tfjs would ignore it.
 */
import { onnxAxis, type Attr, type GraphBuilder } from '../../onnx/builder.ts';
import type { LayerConverter } from '../../onnx/converter.ts';
import { channelsLast, custom, intTuple, oneOf, unsupportedValue, type Field } from '../config.ts';
import { inputOfRank, noWeights, passChannels } from '../shared.ts';
import { defineLayer, type LayerClass, type LayerConfig } from '../types.ts';
import { convOutputLength, samePads, windowPads, type Padding } from '../window.ts';
import { globalPoolTflite, windowPoolTflite } from './tflite.ts';
import { averagePooling2dRule, globalAveragePoolingRule, globalMaxPoolingRule, maxPooling2dRule } from './train.ts';

export interface Pool2DConfig extends LayerConfig {
  poolSize: [number, number];
  strides: [number, number];
  padding: Padding;
  dataFormat: 'channels_last';
}

export interface Pool1DConfig extends LayerConfig {
  poolSize: [number];
  strides: [number];
  padding: Padding;
}

export interface GlobalPoolConfig extends LayerConfig {
  dataFormat: 'channels_last';
  keepdims: false;
}

const PADDING = oneOf<Padding>('padding', ['valid', 'same'], 'valid', { causal: 'pooling has no causal padding; use same or valid' });

/** Keras: strides default to the pool size. */
function stridesOrPoolSize<T extends number[]>(poolSize: Field<T>, strides: Field<T>): Field<T> {
  return custom('strides', (v, ctx) => (v === undefined || v === null ? poolSize.read(ctx.raw.pool_size, { ...ctx, key: 'pool_size' }) : strides.read(v, ctx)), strides.write);
}

const pool2dFields = () => {
  const poolSize = intTuple('pool_size', 2, { default: [2, 2] });
  return { poolSize, strides: stridesOrPoolSize(poolSize, intTuple('strides', 2)), padding: PADDING, dataFormat: channelsLast() };
};

const pool1dFields = () => {
  const poolSize = intTuple('pool_size', 1, { default: [2] });
  return { poolSize, strides: stridesOrPoolSize(poolSize, intTuple('strides', 1)), padding: PADDING };
};

const noKeepdims: Field<false> = custom('keepdims', (v, ctx) => {
  if (v === undefined || v === null || v === false) return false;
  if (v === true) throw unsupportedValue(ctx, 'keepdims: true', 'tfjs ignores keepdims; remove it and add a Reshape');
  throw unsupportedValue(ctx, `keepdims ${JSON.stringify(v)}`, 'keepdims must be false');
}, () => false);

/** MaxPool / AveragePool on a channels-first input; TF's 'same' average divides by the real (unpadded) cells only. */
function poolOp(b: GraphBuilder, hint: string, opType: 'MaxPool' | 'AveragePool', x: string, kernel: number[], strides: number[], pads: number[]): string {
  const attrs: Record<string, Attr> = { kernel_shape: { ints: kernel }, strides: { ints: strides }, pads: { ints: pads } };
  if (opType === 'AveragePool') attrs.count_include_pad = { i: 0 };
  return b.op(opType, [x], attrs, `${hint}/${opType}`);
}

function windowPool(opType: 'MaxPool' | 'AveragePool'): LayerConverter<Pool2DConfig> {
  return ({ b, layer, inputs }) => {
    const x = b.inLayout(inputs[0]!, 'nchw');
    const { poolSize: kernel, strides, padding } = layer.config;
    const pads = windowPads(padding, [x.shape[1] as number, x.shape[2] as number], kernel, strides);
    return { name: poolOp(b, layer.name, opType, x.name, [...kernel], [...strides], pads), layout: 'nchw' };
  };
}

/** [N, steps, C] held as [N, C, steps]: the same pools with a 1-D window (tfjs pools [p, 1] windows of [N, steps, 1, C]). */
function windowPool1d(opType: 'MaxPool' | 'AveragePool'): LayerConverter<Pool1DConfig> {
  return ({ b, layer, inputs }) => {
    const x = b.inLayout(inputs[0]!, 'nchw');
    const { poolSize: [p], strides: [s], padding } = layer.config;
    const pads = padding === 'same' ? samePads(x.shape[1] as number, p, s, 1) : [0, 0];
    return { name: poolOp(b, layer.name, opType, x.name, [p], [s], pads), layout: 'nchw' };
  };
}

/**
 * Global pools reduce every axis between the batch and the channels, in whatever layout the input is held. Over a
 * channels-first 2-D map they are GlobalAveragePool/GlobalMaxPool + Flatten instead: onnxruntime runs a Global*Pool
 * inside its NCHWc blocked layout, so its reorder back to NCHW moves C values, where a Reduce made it reorder the
 * whole H×W×C map first.
 */
function globalPoolOnnx(opType: 'ReduceMean' | 'ReduceMax'): LayerConverter<GlobalPoolConfig> {
  return ({ b, layer, inputs }) => {
    const x = inputs[0]!;
    const rank = x.shape.length;
    if (rank === 4 && x.layout === 'nchw') {
      const global = opType === 'ReduceMean' ? 'GlobalAveragePool' : 'GlobalMaxPool';
      const pooled = b.op(global, [x.name], {}, `${layer.name}/${global}`);
      return { name: b.op('Flatten', [pooled], { axis: { i: 1 } }, `${layer.name}/flatten`), layout: 'keras' };
    }
    const axes = Array.from({ length: rank - 2 }, (_, i) => onnxAxis(i + 1, rank, x.layout));
    return { name: b.op(opType, [x.name], { axes: { ints: axes }, keepdims: { i: 0 } }, `${layer.name}/${opType}`), layout: 'keras' };
  };
}

const shared = { family: 'pooling', arity: 'one', weights: noWeights, channels: passChannels } as const;

function pool2d(className: string, onnx: LayerConverter<Pool2DConfig>, ort: LayerClass<Pool2DConfig>['ort'], tflite: LayerClass<Pool2DConfig>['tflite']) {
  return defineLayer<Pool2DConfig>({
    ...shared,
    className,
    fields: pool2dFields(),
    outputShape(layer, inputs) {
      const [h, w, c] = inputOfRank(layer, inputs, 3);
      const { poolSize: [ph, pw], strides: [sh, sw], padding } = layer.config;
      return [convOutputLength(h!, ph, padding, sh), convOutputLength(w!, pw, padding, sw), c!];
    },
    onnx,
    ort,
    tflite,
  });
}

function pool1d(className: string, onnx: LayerConverter<Pool1DConfig>) {
  return defineLayer<Pool1DConfig>({
    ...shared,
    className,
    fields: pool1dFields(),
    outputShape(layer, inputs) {
      const [steps, c] = inputOfRank(layer, inputs, 2);
      const { poolSize: [p], strides: [s], padding } = layer.config;
      return [convOutputLength(steps!, p, padding, s), c!];
    },
    onnx,
    ort: `no ORT training rule for ${className}`,
  });
}

function globalPool(
  className: string, rank: 2 | 3, onnx: LayerConverter<GlobalPoolConfig>, ort: LayerClass<GlobalPoolConfig>['ort'], tflite: LayerClass<GlobalPoolConfig>['tflite'],
) {
  return defineLayer<GlobalPoolConfig>({
    ...shared,
    className,
    fields: { dataFormat: channelsLast(), keepdims: noKeepdims },
    outputShape: (layer, inputs) => [inputOfRank(layer, inputs, rank).at(-1)!],
    onnx,
    ort,
    tflite,
  });
}

export const poolingLayers = {
  MaxPooling2D: pool2d('MaxPooling2D', windowPool('MaxPool'), maxPooling2dRule, windowPoolTflite('max')),
  AveragePooling2D: pool2d('AveragePooling2D', windowPool('AveragePool'), averagePooling2dRule, windowPoolTflite('average')),
  MaxPooling1D: pool1d('MaxPooling1D', windowPool1d('MaxPool')),
  AveragePooling1D: pool1d('AveragePooling1D', windowPool1d('AveragePool')),
  GlobalAveragePooling2D: globalPool('GlobalAveragePooling2D', 3, globalPoolOnnx('ReduceMean'), globalAveragePoolingRule, globalPoolTflite('mean')),
  GlobalMaxPooling2D: globalPool('GlobalMaxPooling2D', 3, globalPoolOnnx('ReduceMax'), globalMaxPoolingRule, globalPoolTflite('max')),
  GlobalAveragePooling1D: globalPool('GlobalAveragePooling1D', 2, globalPoolOnnx('ReduceMean'), globalAveragePoolingRule, globalPoolTflite('mean')),
  GlobalMaxPooling1D: globalPool('GlobalMaxPooling1D', 2, globalPoolOnnx('ReduceMax'), globalMaxPoolingRule, globalPoolTflite('max')),
};
