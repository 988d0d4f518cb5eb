/**
 * Activation functions in TFLite, for conversions of Conv/Dense-like layers (their `activation` option) and of the
 * activation layers. ReLU and ReLU6 fuse into the op that produced their input whenever nothing else reads it
 * (TFLite's fused_activation_function: free in float, and in int8 the op's output is quantised on the activated
 * range). Formulas follow tfjs-layers, whose model the export must reproduce: swish = x·sigmoid(x), gelu = exact
 * erf form, elu with α = 1.
 */
import { preactivationKey, type LayerIR } from '../../ir.ts';
import type { ActivationName } from '../../layers/activations/names.ts';
import type { LayerConfig } from '../../layers/types.ts';
import { tfliteUnsupported, type TfliteConvertContext } from './converter.ts';
import type { OutputSpec, TensorRef, TfliteGraph } from './graph.ts';
import type { FusedActivation } from './model-spec.ts';
import { binary, unary, type UnaryActivation } from './ops.ts';

export const TFLITE_ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'log_softmax', 'swish', 'elu', 'gelu'] as const;

const SINGLE_OP: Record<string, UnaryActivation> = {
  sigmoid: 'logistic',
  tanh: 'tanh',
  softmax: 'softmax',
  log_softmax: 'logSoftmax',
  elu: 'elu',
  gelu: 'gelu',
};

function unsupportedActivation(layer: LayerIR, activation: string): never {
  throw tfliteUnsupported(layer, `activation "${activation}"`, `supported activations: ${TFLITE_ACTIVATIONS.join(', ')}`);
}

/**
 * `activation` applied to `x`, its result named by `out`. `canFuse`: nothing else reads `x`, so ReLU/ReLU6 may
 * fold into the op that produced it.
 */
export function applyActivation(g: TfliteGraph, layer: LayerIR, x: TensorRef, activation: ActivationName, out: OutputSpec, canFuse: boolean): TensorRef {
  const name = activation;
  if (name === 'linear') return x;
  if (name === 'relu' || name === 'relu6') {
    return (canFuse ? g.fuseActivation(x, name, out) : undefined) ?? unary(g, name, x, out);
  }
  if (name === 'swish') {
    const sigmoid = unary(g, 'logistic', x, { name: `${out.name}/sigmoid` });
    return binary(g, 'mul', x, sigmoid, out, x.shape);
  }
  const op = SINGLE_OP[name];
  if (!op) unsupportedActivation(layer, activation);
  return unary(g, op, x, out);
}

/** The `activation` option of Conv/Dense-like layers and Activation layers (typed: tfjs's snake_case name). */
export function fusedActivationOf(layer: LayerIR): ActivationName {
  return (layer.config as LayerConfig & { activation?: ActivationName }).activation ?? 'linear';
}

/**
 * Emits a Conv/Dense-like layer through `emit` (its linear op, given where its output goes and which activation it
 * may fuse) followed by its `activation` option. ReLU/ReLU6 fuse into the op; any other activation becomes its
 * own op reading the linear output, which is then the tensor `<layer>/preactivation`.
 */
export function withActivation(ctx: TfliteConvertContext, emit: (out: OutputSpec, fused: FusedActivation) => TensorRef): TensorRef {
  const activation = fusedActivationOf(ctx.layer);
  if (activation === 'linear') return emit(ctx.out, 'none');
  if (activation === 'relu' || activation === 'relu6') return emit(ctx.out, activation);
  if (!(TFLITE_ACTIVATIONS as readonly string[]).includes(activation)) unsupportedActivation(ctx.layer, activation);
  const linear = emit({ name: `${ctx.out.name}/preactivation`, rangeKey: preactivationKey(ctx.layer.name) }, 'none');
  return applyActivation(ctx.g, ctx.layer, linear, activation, ctx.out, true);
}
