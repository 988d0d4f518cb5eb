/**
 * The activation family: Activation, ReLU, LeakyReLU, PReLU, ELU, ThresholdedReLU, Softmax — each with tfjs-layers'
 * own definition (advanced_activations.ts). Channels pass through; a softmax across channels blocks them (removing
 * one would change every other's value). Keras options tfjs does not implement (ReLU's negative_slope and
 * threshold, ELU's alpha ≠ 1) are refused: tfjs would ignore them or throw.
 */
import type { LayerIR } from '../../ir.ts';
import { onnxAxis } from '../../onnx/builder.ts';
import type { LayerConverter } from '../../onnx/converter.ts';
import type { LayerRule } from '../../train/ort/rule.ts';
import { activation, badValue, custom, num, optional, singleAxis, unsupportedValue } from '../config.ts';
import { noWeights, passChannels, sameShape, softmaxAcrossChannels } from '../shared.ts';
import { defineLayer, type ChannelContext, type LayerConfig } from '../types.ts';
import { applyActivation, trainingActivation, type Activation, type ActivationName } from './functions.ts';
import { activationTflite, eluTflite, leakyReluTflite, reluTflite, softmaxTflite } from './tflite.ts';

export interface ActivationConfig extends LayerConfig {
  activation: ActivationName;
}

export interface ReLUConfig extends LayerConfig {
  /** Cap (tfjs: relu, then clip to [0, maxValue]); undefined: none. */
  maxValue: number | undefined;
}

export interface LeakyReLUConfig extends LayerConfig {
  alpha: number;
}

export interface PReLUConfig extends LayerConfig {
  /** Keras axes (batch counted) along which alpha is shared. */
  sharedAxes: number[] | undefined;
}

export interface ELUConfig extends LayerConfig {
  alpha: 1;
}

export interface ThresholdedReLUConfig extends LayerConfig {
  theta: number;
}

export interface SoftmaxConfig extends LayerConfig {
  /** Keras axis (batch counted); tfjs's default is 1, not -1. */
  axis: number;
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/** A Keras option tfjs does not implement, accepted at its default only. */
function fixed<T extends number>(key: string, value: T, what: string): ReturnType<typeof custom<T>> {
  return custom(key, (v, ctx) => {
    if (v === undefined || v === null || v === value) return value;
    if (typeof v === 'number' && Number.isFinite(v)) throw unsupportedValue(ctx, `${key} ${v}`, what);
    throw badValue(ctx, `${value}`, v);
  }, (v) => v);
}

/** A layer that only applies an activation: the ORT driver does the work on top of an identity. */
function activationRule<C extends LayerConfig>(of: (layer: LayerIR<C>) => Activation | undefined, describe: (layer: LayerIR<C>) => string): LayerRule<null, C> {
  return {
    unsupported: (layer) => (of(layer) ? undefined : describe(layer)),
    forward: ({ layer, inputs }) => ({ pre: inputs[0]!, activation: of(layer)!, saved: null }),
    backward: ({ inputs, dPre, forward, needInput }) => ({
      inputs: [needInput[0] ? { name: dPre, layout: forward.pre.layout, shape: inputs[0]!.shape } : undefined],
      weights: {},
    }),
  };
}

function one(ctx: { inputs: { name: string; layout: 'keras' | 'nchw'; shape: unknown[] }[] }) {
  const x = ctx.inputs[0]!;
  return { name: x.name, layout: x.layout, rank: x.shape.length };
}

const acrossChannels = (name: ActivationName) => name === 'softmax' || name === 'log_softmax';

/** Shape-preserving, weight-free, channel-preserving: what most activation layers are. */
const elementwise = { family: 'activations', arity: 'one', weights: noWeights, outputShape: sameShape, channels: passChannels } as const;

/** One ONNX op whose float attribute `alpha` comes from the config. */
function alphaOp<C extends LayerConfig>(opType: string, hint: string, alpha: (c: C) => number): LayerConverter<C> {
  return ({ b, layer, inputs }) => ({ name: b.op(opType, [inputs[0]!.name], { alpha: { f: alpha(layer.config) } }, `${layer.name}/${hint}`), layout: inputs[0]!.layout });
}

export const activationLayer = defineLayer<ActivationConfig>({
  className: 'Activation',
  family: 'activations',
  arity: 'one',
  fields: { activation: activation() },
  weights: noWeights,
  outputShape: sameShape,
  channels: (ctx: ChannelContext<ActivationConfig>) => (acrossChannels(ctx.layer.config.activation) ? softmaxAcrossChannels(ctx) : ctx.input()),
  onnx: (ctx) => applyActivation(ctx.b, ctx.layer.name, one(ctx), ctx.layer.config.activation),
  ort: activationRule((l) => trainingActivation(l.config.activation), (l) => `activation "${l.config.activation}"`),
  tflite: activationTflite,
  finalActivation: (c) => ({ name: c.activation, fused: false }),
});

/** tfjs ReLU layer: relu, then clip at max_value when set. */
const reluOnnx: LayerConverter<ReLUConfig> = ({ b, layer, inputs }) => {
  const x = one({ inputs });
  const max = layer.config.maxValue;
  if (max === undefined) return applyActivation(b, layer.name, x, 'relu');
  const h = `${layer.name}/clip`;
  return { name: b.op('Clip', [x.name, b.floatConst(`${h}/min`, [], [0]), b.floatConst(`${h}/max`, [], [max])], {}, h), layout: x.layout };
};

export const relu = defineLayer<ReLUConfig>({
  ...elementwise,
  className: 'ReLU',
  fields: { maxValue: optional(num('max_value', { min: 0 })) },
  check(_c, fail, keras) {
    for (const key of ['negative_slope', 'threshold']) {
      const v = keras[key];
      if (v !== undefined && v !== null && v !== 0) fail(key, `${JSON.stringify(v)} is not supported: tfjs's ReLU has no ${key}`, true);
    }
  },
  onnx: reluOnnx,
  ort: activationRule<ReLUConfig>(
    (l) => (l.config.maxValue === undefined ? { kind: 'relu' } : l.config.maxValue > 0 ? { kind: 'relu', max: l.config.maxValue } : undefined),
    (l) => `max_value ${l.config.maxValue}`,
  ),
  tflite: reluTflite,
});

export const leakyRelu = defineLayer<LeakyReLUConfig>({
  ...elementwise,
  className: 'LeakyReLU',
  fields: { alpha: num('alpha', { default: 0.3 }) },
  onnx: alphaOp('LeakyRelu', 'leaky_relu', (c) => c.alpha),
  ort: 'no ORT training rule for LeakyReLU',
  tflite: leakyReluTflite,
});

export const prelu = defineLayer<PReLUConfig>({
  className: 'PReLU',
  family: 'activations',
  arity: 'one',
  fields: {
    sharedAxes: custom('shared_axes', (v, ctx) => {
      if (v === undefined || v === null) return undefined;
      const list = Array.isArray(v) ? v : [v];
      if (!list.every((a) => isInt(a) && a >= 1)) throw badValue(ctx, 'null or a list of axes ≥ 1', v);
      return [...list] as number[];
    }, (v) => (v === undefined ? null : [...v])),
  },
  weights(layer, [input]) {
    const shape = [...input!];
    for (const a of layer.config.sharedAxes ?? []) if (a - 1 < shape.length) shape[a - 1] = 1;
    return [{ name: 'alpha', shape }];
  },
  outputShape: sameShape,
  channels(ctx) {
    const input = ctx.input();
    const alpha = ctx.layer.weights.find((w) => w.name === 'alpha');
    if (alpha && alpha.shape[alpha.shape.length - 1] === input.length && input.length > 1) ctx.bind('alpha', alpha.shape.length - 1, input, 'through');
    return input;
  },
  ort: 'no ORT training rule for PReLU',
});

export const elu = defineLayer<ELUConfig>({
  ...elementwise,
  className: 'ELU',
  fields: { alpha: fixed('alpha', 1, "tfjs's ELU layer implements only alpha 1") },
  onnx: alphaOp('Elu', 'elu', (c) => c.alpha),
  ort: 'no ORT training rule for ELU',
  tflite: eluTflite,
});

/** tfjs ThresholdedReLU: x where x > theta, else 0 — ONNX ThresholdedRelu exactly. */
export const thresholdedRelu = defineLayer<ThresholdedReLUConfig>({
  ...elementwise,
  className: 'ThresholdedReLU',
  fields: { theta: num('theta', { default: 1 }) },
  onnx: alphaOp('ThresholdedRelu', 'thresholded_relu', (c) => c.theta),
  ort: 'no ORT training rule for ThresholdedReLU',
});

export const softmax = defineLayer<SoftmaxConfig>({
  className: 'Softmax',
  family: 'activations',
  arity: 'one',
  fields: { axis: singleAxis(1) },
  weights: noWeights,
  outputShape: sameShape,
  channels: softmaxAcrossChannels,
  onnx: ({ b, layer, inputs }) => {
    const x = inputs[0]!;
    const axis = onnxAxis(layer.config.axis, x.shape.length, x.layout);
    return { name: b.op('Softmax', [x.name], { axis: { i: axis } }, `${layer.name}/softmax`), layout: x.layout };
  },
  ort: activationRule<SoftmaxConfig>((l) => ({ kind: 'softmax', kerasAxis: l.config.axis }), (l) => `softmax over axis ${l.config.axis}`),
  tflite: softmaxTflite,
  finalActivation: (c) => ({ name: 'softmax', axis: c.axis, fused: false }),
});

export const activationLayers = {
  Activation: activationLayer,
  ReLU: relu,
  LeakyReLU: leakyRelu,
  PReLU: prelu,
  ELU: elu,
  ThresholdedReLU: thresholdedRelu,
  Softmax: softmax,
};
