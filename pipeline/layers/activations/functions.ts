/**
 * Activation functions, fused into Conv/Dense (`activation`) or as layers: as inference ONNX ops (every name tfjs
 * knows) and as training-graph ops with their gradients (the subset onnxruntime training covers). Each formula
 * follows tfjs-layers' own definition (activations.ts, advanced_activations.ts), not Keras-Python's, since the
 * exported model must match what tfjs computes. Training gradients follow tfjs's: relu passes the gradient where
 * x > 0; a capped relu (relu6, ReLU max_value) where 0 < x <= max (tfjs's Relu6 gradient and clipByValue's inclusive
 * bounds); sigmoid dy·y·(1−y); hard_sigmoid 0.2·dy where 0 ≤ 0.2·x + 0.5 ≤ 1 (clipByValue's inclusive bounds);
 * tanh dy·(1−y²); softmax y·(dy − Σ dy·y).
 */
import { onnxAxis, type GraphBuilder, type Layout, type TensorRef } from '../../onnx/builder.ts';
import type { Produced } from '../../onnx/converter.ts';
import { maskGrad, mul, reduceSum, scalar } from '../../train/ort/ops.ts';
import type { ActivationName } from './names.ts';

export type { ActivationName } from './names.ts';

/** A tensor to activate, with its rank (softmax needs the Keras last axis). */
export interface ActivationInput {
  name: string;
  layout: Layout;
  rank: number;
}

/**
 * Applies `name` to `x` in an inference graph; the result keeps x's layout. Softmax works on the Keras last axis.
 * Node names start with `${layerName}/${name}`.
 */
export function applyActivation(b: GraphBuilder, layerName: string, x: ActivationInput, name: ActivationName): Produced {
  const h = `${layerName}/${name}`;
  const c = (hint: string, value: number) => b.floatConst(hint, [], [value]);
  const same = (out: string): Produced => ({ name: out, layout: x.layout });
  const lastAxis = (): number => onnxAxis(-1, x.rank, x.layout);
  switch (name) {
    case 'linear':
      return x;
    case 'relu':
      return same(b.op('Relu', [x.name], {}, h));
    case 'relu6':
      return same(b.op('Clip', [x.name, c(`${h}/min`, 0), c(`${h}/max`, 6)], {}, h));
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
      return same(b.op('Mul', [x.name, b.op('Tanh', [b.op('Softplus', [x.name], {}, `${h}/softplus`)], {}, `${h}/tanh`)], {}, h));
    case 'gelu': {
      // tfjs: x * 0.5 * (1 + erf(x / sqrt 2))
      const erf = b.op('Erf', [b.op('Div', [x.name, c(`${h}/sqrt2`, Math.SQRT2)], {}, `${h}/div`)], {}, `${h}/erf`);
      const cdf = b.op('Mul', [b.op('Add', [erf, c(`${h}/one`, 1)], {}, `${h}/add`), c(`${h}/half`, 0.5)], {}, `${h}/cdf`);
      return same(b.op('Mul', [x.name, cdf], {}, h));
    }
  }
}

/** An activation as onnxruntime training applies it (forward and reverse). */
export type Activation =
  | { kind: 'linear' }
  | { kind: 'relu'; max?: number }
  | { kind: 'sigmoid' }
  /** tfjs's clip(0.2·x + 0.5, 0, 1) (the recurrent layers' default gate activation). */
  | { kind: 'hard_sigmoid' }
  | { kind: 'tanh' }
  /** Softmax over one Keras axis (batch counted, negative from the end). */
  | { kind: 'softmax'; kerasAxis: number };

/** The training form of a named activation, or undefined when ORT training does not cover it. */
export function trainingActivation(name: ActivationName): Activation | undefined {
  switch (name) {
    case 'linear': return { kind: 'linear' };
    case 'relu': return { kind: 'relu' };
    case 'relu6': return { kind: 'relu', max: 6 };
    case 'sigmoid': return { kind: 'sigmoid' };
    case 'hard_sigmoid': return { kind: 'hard_sigmoid' };
    case 'tanh': return { kind: 'tanh' };
    case 'softmax': return { kind: 'softmax', kerasAxis: -1 };
    default: return undefined;
  }
}

/** Applies `act` to `x` in a training graph; the result keeps x's layout. */
export function activationForward(b: GraphBuilder, act: Activation, x: TensorRef, hint: string): TensorRef {
  const same = (name: string): TensorRef => ({ name, layout: x.layout, shape: x.shape });
  switch (act.kind) {
    case 'linear':
      return x;
    case 'relu':
      if (act.max === undefined) return same(b.op('Relu', [x.name], {}, `${hint}/relu`));
      return same(b.op('Clip', [x.name, scalar(b, `${hint}/min`, 0), scalar(b, `${hint}/max`, act.max)], {}, `${hint}/relu_max`));
    case 'sigmoid':
      return same(b.op('Sigmoid', [x.name], {}, `${hint}/sigmoid`));
    case 'hard_sigmoid':
      return same(b.op('HardSigmoid', [x.name], { alpha: { f: 0.2 }, beta: { f: 0.5 } }, `${hint}/hard_sigmoid`));
    case 'tanh':
      return same(b.op('Tanh', [x.name], {}, `${hint}/tanh`));
    case 'softmax': {
      const axis = onnxAxis(act.kerasAxis, x.shape.length, x.layout);
      return same(b.op('Softmax', [x.name], { axis: { i: axis } }, `${hint}/softmax`));
    }
  }
}

/** Gradient with respect to the activation's input `x`, given its output `y` and the output's gradient `dy` (same layout). */
export function activationBackward(b: GraphBuilder, act: Activation, x: TensorRef, y: TensorRef, dy: string, hint: string): string {
  switch (act.kind) {
    case 'linear':
      return dy;
    case 'relu': {
      if (act.max === undefined) {
        return maskGrad(b, b.op('Greater', [y.name, scalar(b, `${hint}/zero`, 0)], {}, `${hint}/relu_mask`), dy, `${hint}/d_relu`);
      }
      const above = b.op('Greater', [x.name, scalar(b, `${hint}/zero`, 0)], {}, `${hint}/above_min`);
      const below = b.op('LessOrEqual', [x.name, scalar(b, `${hint}/max`, act.max)], {}, `${hint}/below_max`);
      return maskGrad(b, b.op('And', [above, below], {}, `${hint}/relu_mask`), dy, `${hint}/d_relu_max`);
    }
    case 'sigmoid': {
      const oneMinus = b.op('Sub', [scalar(b, `${hint}/one`, 1), y.name], {}, `${hint}/one_minus_y`);
      return mul(b, dy, mul(b, y.name, oneMinus, `${hint}/y_one_minus_y`), `${hint}/d_sigmoid`);
    }
    case 'hard_sigmoid': {
      const t = b.op('Add', [mul(b, x.name, scalar(b, `${hint}/slope`, 0.2), `${hint}/scaled`), scalar(b, `${hint}/offset`, 0.5)], {}, `${hint}/linear`);
      const inside = b.op('And', [
        b.op('GreaterOrEqual', [t, scalar(b, `${hint}/zero`, 0)], {}, `${hint}/above_zero`),
        b.op('LessOrEqual', [t, scalar(b, `${hint}/one`, 1)], {}, `${hint}/below_one`),
      ], {}, `${hint}/inside`);
      return maskGrad(b, inside, mul(b, dy, scalar(b, `${hint}/slope_dy`, 0.2), `${hint}/dy_slope`), `${hint}/d_hard_sigmoid`);
    }
    case 'tanh': {
      const oneMinus = b.op('Sub', [scalar(b, `${hint}/one`, 1), mul(b, y.name, y.name, `${hint}/y2`)], {}, `${hint}/one_minus_y2`);
      return mul(b, oneMinus, dy, `${hint}/d_tanh`);
    }
    case 'softmax': {
      const axis = onnxAxis(act.kerasAxis, y.shape.length, y.layout);
      const dyy = mul(b, dy, y.name, `${hint}/dy_y`);
      const sum = reduceSum(b, dyy, [axis], true, `${hint}/sum_dy_y`);
      return b.op('Sub', [dyy, mul(b, sum, y.name, `${hint}/sum_y`)], {}, `${hint}/d_softmax`);
    }
  }
}

/** Why a fused activation keeps a layer off ORT training, or undefined when it is covered. */
export function trainingActivationProblem(name: ActivationName): string | undefined {
  return trainingActivation(name) ? undefined : `activation "${name}"`;
}
