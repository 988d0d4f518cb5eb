/**
 * The normalisation family: BatchNormalization and LayerNormalization.
 *
 * BatchNormalization at inference is an affine map per channel (`channelAffine`): the ONNX export folds it into the
 * preceding Conv/Dense where it can (onnx/fold-batchnorm.ts) and otherwise emits Mul + Add in whatever layout its
 * input has. Its channels pass through (gamma, beta and the statistics follow them). LayerNormalization mixes the
 * channels it normalises over: the pruning analysis lets it block them, and neither export nor ORT training covers it.
 */
import { onnxAxis } from '../../onnx/builder.ts';
import { requireWeight, unsupportedOption, type LayerConverter } from '../../onnx/converter.ts';
import { badValue, bool, custom, num, singleAxis } from '../config.ts';
import { invalid, sameShape } from '../shared.ts';
import type { LayerIR } from '../../ir.ts';
import { defineLayer, type LayerConfig, type Shape } from '../types.ts';
import { batchNormTflite } from './tflite.ts';
import { batchNormRule } from './train.ts';

export interface BatchNormalizationConfig extends LayerConfig {
  /** Keras axis (batch counted; -1 is the last). tfjs writes an int; Keras-Python a one-element list. */
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
}

export interface LayerNormalizationConfig extends LayerConfig {
  /** Keras axes (batch counted). */
  axis: number[];
  epsilon: number;
  center: boolean;
  scale: boolean;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const axisList = custom<number[]>('axis', (v, ctx) => {
  if (v === undefined || v === null) return [-1];
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every(isInt)) throw badValue(ctx, 'an integer axis or a list of them', v);
  return [...list] as number[];
}, (v) => (v.length === 1 ? v[0]! : [...v]));

/** Per-sample index of Keras axis `axis` (batch counted) for a per-sample shape of rank `rank`, or -1 if outside. */
function sampleAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank + 1 : axis;
  return a >= 1 && a <= rank ? a - 1 : -1;
}

function normalizedAxis(layer: LayerIR<BatchNormalizationConfig>, input: Shape): number {
  const a = sampleAxis(layer.config.axis, input.length);
  if (a < 0) throw invalid(layer, `normalises axis ${layer.config.axis}, outside an input of shape [${input}]`);
  return a;
}

/** Per-channel scale and shift of inference-mode BN, computed in double precision. */
export function batchNormAffine(layer: LayerIR<BatchNormalizationConfig>): { scale: Float32Array; shift: Float32Array } {
  const { epsilon } = layer.config;
  const mean = requireWeight(layer, 'moving_mean').values;
  const variance = requireWeight(layer, 'moving_variance').values;
  const gamma = layer.config.scale ? requireWeight(layer, 'gamma').values : undefined;
  const beta = layer.config.center ? requireWeight(layer, 'beta').values : undefined;
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    const s = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + epsilon);
    scale[c] = s;
    shift[c] = (beta ? beta[c]! : 0) - mean[c]! * s;
  }
  return { scale, shift };
}

/**
 * Unfolded BN: Mul + Add, the per-channel vectors shaped [C, 1, ..., 1] against the channel axis. Only on the last
 * axis: tfjs's batch-norm kernels apply the statistics cyclically over the flat index whatever the axis (measured:
 * axis 1 of [1, 2, 3, 2] normalises along the last axis), so a model normalising another axis means one thing in
 * Keras and another in tfjs — refused rather than exported as either.
 */
const batchNormOnnx: LayerConverter<BatchNormalizationConfig> = ({ b, layer, inputs }) => {
  const x = inputs[0]!;
  const rank = x.shape.length;
  if (sampleAxis(layer.config.axis, rank - 1) !== rank - 2) {
    throw unsupportedOption(layer, `BatchNormalization over axis ${layer.config.axis}`, 'tfjs normalises the last axis whatever the config says; normalise the channel axis (-1)');
  }
  const { scale, shift } = batchNormAffine(layer);
  const axis = onnxAxis(layer.config.axis, rank, x.layout);
  const dims = [scale.length, ...new Array<number>(rank - 1 - axis).fill(1)];
  const s = b.floatConst(`${layer.name}/scale`, dims, scale);
  const t = b.floatConst(`${layer.name}/shift`, dims, shift);
  const scaled = b.op('Mul', [x.name, s], {}, `${layer.name}/mul`);
  return { name: b.op('Add', [scaled, t], {}, `${layer.name}/add`), layout: x.layout };
};

export const batchNormalization = defineLayer<BatchNormalizationConfig>({
  className: 'BatchNormalization',
  family: 'normalization',
  arity: 'one',
  fields: {
    axis: singleAxis(-1),
    momentum: num('momentum', { default: 0.99, min: 0, max: 1 }),
    epsilon: num('epsilon', { default: 1e-3, above: 0 }),
    center: bool('center', true),
    scale: bool('scale', true),
  },
  weights(layer, [input]) {
    const c = input![normalizedAxis(layer, input!)]!;
    const { scale, center } = layer.config;
    return [...(scale ? ['gamma'] : []), ...(center ? ['beta'] : []), 'moving_mean', 'moving_variance'].map((name) => ({ name, shape: [c] }));
  },
  outputShape(layer, inputs) {
    normalizedAxis(layer, inputs[0]!);
    return sameShape(layer, inputs);
  },
  channels(ctx) {
    const input = ctx.input();
    const rank = ctx.outShape().length;
    if (sampleAxis(ctx.layer.config.axis, rank) !== rank - 1) ctx.refuse(`normalises axis ${ctx.layer.config.axis}, not the channel axis`);
    for (const w of ['gamma', 'beta', 'moving_mean', 'moving_variance']) ctx.bind(w, 0, input, 'through', w === 'gamma' || w === 'beta');
    return input;
  },
  onnx: batchNormOnnx,
  tflite: batchNormTflite,
  ort: batchNormRule,
  channelAffine: (layer) => ({ ...batchNormAffine(layer), axis: layer.config.axis }),
});

export const layerNormalization = defineLayer<LayerNormalizationConfig>({
  className: 'LayerNormalization',
  family: 'normalization',
  arity: 'one',
  fields: { axis: axisList, epsilon: num('epsilon', { default: 1e-3, above: 0 }), center: bool('center', true), scale: bool('scale', true) },
  weights(layer, [input]) {
    const axes = layer.config.axis.map((a) => sampleAxis(a, input!.length));
    if (axes.some((a) => a < 0)) throw invalid(layer, `normalises axes [${layer.config.axis}], outside an input of shape [${input}]`);
    const shape = axes.map((a) => input![a]!);
    return [...(layer.config.scale ? ['gamma'] : []), ...(layer.config.center ? ['beta'] : [])].map((name) => ({ name, shape }));
  },
  outputShape: sameShape,
  ort: 'no ORT training rule for LayerNormalization',
});

export const normalizationLayers = { BatchNormalization: batchNormalization, LayerNormalization: layerNormalization };
