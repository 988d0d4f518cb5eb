/**
 * Activation functions (fused into Conv/Dense via `activation`, or as layers) as ONNX ops. Each formula
 * follows tfjs-layers' own definition (activations.ts, advanced_activations.ts), not Keras-Python's,
 * since the exported model must match what tfjs computes. (tfjs's `gelu_new` is left out: tfjs cannot load it
 * back from a model.json, which camel-cases it to an unknown `geluNew`.)
 */
import type { LayerIR } from '../../ir.ts';
import { onnxAxis, type GraphBuilder, type TensorRef } from '../builder.ts';
import { numberOpt, stringOpt, unsupportedOption, type LayerConverter, type Produced } from './common.ts';

export const SUPPORTED_ACTIVATIONS = [
  'linear', 'relu', 'relu6', 'sigmoid', 'hard_sigmoid', 'tanh', 'softmax', 'log_softmax', 'swish', 'elu',
  'selu', 'softplus', 'softsign', 'gelu', 'mish',
] as const;

/** tfjs writes activation names snake_cased (`hard_sigmoid`); accept the camelCase class names too. */
function normalize(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

interface Input extends Produced {
  rank: number;
}

function scalar(b: GraphBuilder, hint: string, value: number): string {
  return b.floatConst(hint, [], [value]);
}

/** Applies `activation` to `x`; the result keeps x's layout. Softmax works on the Keras last axis. */
export function applyActivation(b: GraphBuilder, layer: LayerIR, x: Input, activation: string): Produced {
  const name = normalize(activation);
  const h = `${layer.name}/${name}`;
  const same = (out: string): Produced => ({ name: out, layout: x.layout });
  const lastAxis = (): number => onnxAxis(-1, x.rank, x.layout);
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return same(b.op('Relu', [x.name], {}, h));
    case 'relu6':
      return same(b.op('Clip', [x.name, scalar(b, `${h}/min`, 0), scalar(b, `${h}/max`, 6)], {}, h));
    case 'sigmoid':
      return same(b.op('Sigmoid', [x.name], {}, h));
    case 'hard_sigmoid': // tfjs: clip(0.2 x + 0.5, 0, 1)
      return same(b.op('HardSigmoid', [x.name], { alpha: { f: 0.2 }, beta: { f: 0.5 } }, h));
    case 'tanh':
      return same(b.op('Tanh', [x.name], {}, h));
    case 'softmax':
      return same(b.op('Softmax', [x.name], { axis: { i: lastAxis() } }, h));
    case 'log_softmax':
      return same(b.op('LogSoftmax', [x.name], { axis: { i: lastAxis() } }, h));
    case 'swish': // tfjs: x * sigmoid(x)
      return same(b.op('Mul', [x.name, b.op('Sigmoid', [x.name], {}, `${h}/sigmoid`)], {}, h));
    case 'elu':
      return same(b.op('Elu', [x.name], { alpha: { f: 1 } }, h));
    case 'selu': // ONNX's default alpha/gamma are the SELU constants tfjs uses
      return same(b.op('Selu', [x.name], {}, h));
    case 'softplus':
      return same(b.op('Softplus', [x.name], {}, h));
    case 'softsign':
      return same(b.op('Softsign', [x.name], {}, h));
    case 'mish': // x * tanh(softplus(x))
      return same(
        b.op('Mul', [x.name, b.op('Tanh', [b.op('Softplus', [x.name], {}, `${h}/softplus`)], {}, `${h}/tanh`)], {}, h),
      );
    case 'gelu': {
      // tfjs: x * 0.5 * (1 + erf(x / sqrt 2))
      const erf = b.op('Erf', [b.op('Div', [x.name, scalar(b, `${h}/sqrt2`, Math.SQRT2)], {}, `${h}/div`)], {}, `${h}/erf`);
      const cdf = b.op('Mul', [b.op('Add', [erf, scalar(b, `${h}/one`, 1)], {}, `${h}/add`), scalar(b, `${h}/half`, 0.5)], {}, `${h}/cdf`);
      return same(b.op('Mul', [x.name, cdf], {}, h));
    }
    default:
      throw unsupportedOption(
        layer,
        `activation "${activation}"`,
        `supported activations: ${SUPPORTED_ACTIVATIONS.join(', ')}`,
      );
  }
}

/** The `activation` option of Conv/Dense-like layers. */
export function fusedActivation(layer: LayerIR): string {
  return stringOpt(layer, 'activation', 'linear');
}

function only(inputs: TensorRef[]): Input {
  const x = inputs[0];
  return { name: x.name, layout: x.layout, rank: x.shape.length };
}

const activationLayer: LayerConverter = (ctx) => applyActivation(ctx.b, ctx.layer, only(ctx.inputs), fusedActivation(ctx.layer));

/** tfjs ReLU layer: relu, then clip at max_value when set. */
const reluLayer: LayerConverter = ({ b, layer, inputs }) => {
  const x = only(inputs);
  const maxValue = layer.config.max_value;
  if (maxValue === undefined || maxValue === null) return applyActivation(b, layer, x, 'relu');
  const max = numberOpt(layer, 'max_value', Infinity);
  const h = `${layer.name}/clip`;
  return { name: b.op('Clip', [x.name, scalar(b, `${h}/min`, 0), scalar(b, `${h}/max`, max)], {}, h), layout: x.layout };
};

const leakyReluLayer: LayerConverter = ({ b, layer, inputs }) => {
  const alpha = numberOpt(layer, 'alpha', 0.3);
  return { name: b.op('LeakyRelu', [inputs[0].name], { alpha: { f: alpha } }, `${layer.name}/leaky_relu`), layout: inputs[0].layout };
};

const eluLayer: LayerConverter = ({ b, layer, inputs }) => {
  const alpha = numberOpt(layer, 'alpha', 1);
  return { name: b.op('Elu', [inputs[0].name], { alpha: { f: alpha } }, `${layer.name}/elu`), layout: inputs[0].layout };
};

/** tfjs ThresholdedReLU: x where x > theta, else 0 — ONNX ThresholdedRelu exactly. */
const thresholdedReluLayer: LayerConverter = ({ b, layer, inputs }) => {
  const theta = numberOpt(layer, 'theta', 1);
  return { name: b.op('ThresholdedRelu', [inputs[0].name], { alpha: { f: theta } }, `${layer.name}/thresholded_relu`), layout: inputs[0].layout };
};

/** tfjs Softmax layer: axis defaults to 1 (not -1 as in Keras-Python); the axis is a Keras axis. */
const softmaxLayer: LayerConverter = ({ b, layer, inputs }) => {
  const x = inputs[0];
  const raw = layer.config.axis;
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw ?? 1;
  if (typeof axis !== 'number') throw unsupportedOption(layer, `softmax over several axes (${JSON.stringify(raw)})`, 'use a single axis');
  const onnx = onnxAxis(axis, x.shape.length, x.layout);
  return { name: b.op('Softmax', [x.name], { axis: { i: onnx } }, `${layer.name}/softmax`), layout: x.layout };
};

export const activationConverters: Record<string, LayerConverter> = {
  Activation: activationLayer,
  ReLU: reluLayer,
  LeakyReLU: leakyReluLayer,
  ELU: eluLayer,
  ThresholdedReLU: thresholdedReluLayer,
  Softmax: softmaxLayer,
};
