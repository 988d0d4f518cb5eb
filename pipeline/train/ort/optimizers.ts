/**
 * Optimizer updates as graph nodes, with tfjs's formulas (tf.train.adam / tf.train.momentum) so one step matches
 * tfjs. Moments are carried tensors like the weights. Step-dependent factors are scalar inputs computed by the
 * caller each step (see optimizerScalars), so the graph needs no step counter.
 *   Adam:     m ← β₁m + (1−β₁)g;  v ← β₂v + (1−β₂)g²;  w ← w − (lr/(1−β₁ᵗ))·m / (√(v/(1−β₂ᵗ)) + ε)
 *   Momentum: a ← μa + g;  w ← w − lr·a
 */
import type { GraphBuilder } from '../../onnx/builder.ts';
import { mul, opInto, scalar } from './ops.ts';
import type { CarriedTensor } from './weights.ts';

export type OptimizerName = 'adam' | 'sgd-momentum';

export interface OptimizerConfig {
  name: OptimizerName;
  /** Adam (tfjs defaults: 0.9, 0.999, 1e-7 — tfjs's float32 backend epsilon). */
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Momentum (default 0.9). */
  momentum?: number;
}

export interface Updatable {
  /** The weight's current value (graph input), its gradient, and the graph output for the updated value. */
  value: string;
  grad: string;
  output: string;
  shape: number[];
  /** Name stem for the optimizer's own carried tensors. */
  stem: string;
}

export interface OptimizerGraph {
  /** Moment tensors to carry between steps (start at zero). */
  slots: CarriedTensor[];
  /** Scalar inputs to feed each step (names), in optimizerScalars' order. */
  scalars: string[];
}

const ADAM_STEP = 'adam:step_size';
const ADAM_V_SCALE = 'adam:v_scale';
const LEARNING_RATE = 'sgd:learning_rate';

function resolved(cfg: OptimizerConfig) {
  return { beta1: cfg.beta1 ?? 0.9, beta2: cfg.beta2 ?? 0.999, epsilon: cfg.epsilon ?? 1e-7, momentum: cfg.momentum ?? 0.9 };
}

function scalarInput(b: GraphBuilder, name: string): string {
  b.claim(name);
  b.addInput(name, []);
  return name;
}

/** A moment tensor: its current value (input) and the output name its update must be computed into. */
function slot(b: GraphBuilder, u: Updatable, kind: string, slots: CarriedTensor[]): { current: string; next: string } {
  const input = b.claim(`${kind}:${u.stem}`);
  b.addInput(input, u.shape);
  const output = `${input}:next`;
  b.addOutput(output, u.shape);
  slots.push({ input, output, shape: u.shape, initial: new Float32Array(u.shape.reduce((a, c) => a * c, 1)) });
  return { current: input, next: output };
}

export function buildOptimizer(b: GraphBuilder, cfg: OptimizerConfig, items: Updatable[]): OptimizerGraph {
  const p = resolved(cfg);
  const slots: CarriedTensor[] = [];
  if (cfg.name === 'adam') {
    const stepSize = scalarInput(b, ADAM_STEP);
    const vScale = scalarInput(b, ADAM_V_SCALE);
    const [b1, c1, b2, c2, eps] = [p.beta1, 1 - p.beta1, p.beta2, 1 - p.beta2, p.epsilon].map((v, i) => scalar(b, `adam/const_${i}`, v));
    for (const u of items) {
      const h = `adam/${u.stem}`;
      const m = slot(b, u, 'adam_m', slots);
      const v = slot(b, u, 'adam_v', slots);
      const m2 = opInto(b, 'Add', [mul(b, m.current, b1, `${h}/m_decay`), mul(b, u.grad, c1, `${h}/m_new`)], m.next);
      const g2 = mul(b, u.grad, u.grad, `${h}/g2`);
      const v2 = opInto(b, 'Add', [mul(b, v.current, b2, `${h}/v_decay`), mul(b, g2, c2, `${h}/v_new`)], v.next);
      const denom = b.op('Add', [b.op('Sqrt', [mul(b, v2, vScale, `${h}/v_hat`)], {}, `${h}/sqrt_v_hat`), eps], {}, `${h}/denom`);
      const step = mul(b, b.op('Div', [m2, denom], {}, `${h}/ratio`), stepSize, `${h}/step`);
      opInto(b, 'Sub', [u.value, step], u.output);
    }
    return { slots, scalars: [ADAM_STEP, ADAM_V_SCALE] };
  }
  const lr = scalarInput(b, LEARNING_RATE);
  const mu = scalar(b, 'momentum/mu', p.momentum);
  for (const u of items) {
    const h = `momentum/${u.stem}`;
    const a = slot(b, u, 'momentum', slots);
    const a2 = opInto(b, 'Add', [mul(b, a.current, mu, `${h}/decay`), u.grad], a.next);
    opInto(b, 'Sub', [u.value, mul(b, a2, lr, `${h}/step`)], u.output);
  }
  return { slots, scalars: [LEARNING_RATE] };
}

/**
 * The scalar inputs for steps 1, 2, 3, … (OptimizerGraph.scalars order), one call per step with that step's learning
 * rate. Adam's bias corrections use β^t accumulated as tfjs does (a float32 product, multiplied once per step),
 * so long runs track tfjs too.
 */
export function optimizerSchedule(cfg: OptimizerConfig): (learningRate: number) => number[] {
  const p = resolved(cfg);
  if (cfg.name !== 'adam') return (learningRate) => [learningRate];
  let acc1 = Math.fround(p.beta1);
  let acc2 = Math.fround(p.beta2);
  return (learningRate) => {
    const scalars = [learningRate / (1 - acc1), 1 / (1 - acc2)];
    acc1 = Math.fround(acc1 * Math.fround(p.beta1));
    acc2 = Math.fround(acc2 * Math.fround(p.beta2));
    return scalars;
  };
}
