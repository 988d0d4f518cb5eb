/**
 * The activations ORT training covers, forward and reverse, with tfjs's gradient definitions:
 * relu passes the gradient where x > 0; a capped relu (relu6, ReLU max_value) where 0 < x <= max (tfjs's Relu6
 * gradient and clipByValue's inclusive bounds); sigmoid dy*y*(1-y); tanh dy*(1-y²); softmax y*(dy - Σ dy*y).
 */
import { onnxAxis, type GraphBuilder, type TensorRef } from '../../../onnx/builder.ts';
import { mul, maskGrad, reduceSum, scalar } from './ops.ts';

export type Activation =
  | { kind: 'linear' }
  | { kind: 'relu'; max?: number }
  | { kind: 'sigmoid' }
  | { kind: 'tanh' }
  /** Softmax over one Keras axis (batch counted, negative from the end). */
  | { kind: 'softmax'; kerasAxis: number };

/** An activation by its Keras name (tfjs writes snake_case; camelCase accepted), or undefined if not covered. */
export function activationByName(name: string): Activation | undefined {
  switch (name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)) {
    case 'linear': return { kind: 'linear' };
    case 'relu': return { kind: 'relu' };
    case 'relu6': return { kind: 'relu', max: 6 };
    case 'sigmoid': return { kind: 'sigmoid' };
    case 'tanh': return { kind: 'tanh' };
    case 'softmax': return { kind: 'softmax', kerasAxis: -1 };
    default: return undefined;
  }
}

export const COVERED_ACTIVATIONS = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax'];

/** Applies `act` to `x`; the result keeps x's layout. */
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
