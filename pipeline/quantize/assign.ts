/**
 * A precision assignment (one rung per planned weight) and the model it gives. Kept apart from the stage so the
 * fallback can rebuild the model after every change from the untouched input weights (never re-quantising codes).
 */
import type { ModelIR, TfjsShipping, WeightIR } from '../ir.ts';
import { quantizeWeight } from '../weight-storage.ts';
import { storageFor, type Granularity, type PlannedWeight, type Precision } from './plan.ts';
import { chooseTfjsShipping, type TfjsChoice } from './tfjs-choice.ts';

export interface WeightAssignment {
  plan: PlannedWeight;
  /** What ONNX/TFLite store (and TF.js too, unless int8). */
  precision: Precision;
  /** For int8: what the TF.js export writes (float32: exact values). */
  tfjs?: TfjsShipping | 'float32';
  /** How the TF.js format was first chosen (int8 only). */
  tfjsChoice?: TfjsChoice;
  /** Each fallback step that raised this weight, in order. */
  raised: string[];
}

export const key = (a: { layer: string; weight: string }) => `${a.layer}/${a.weight}`;

/**
 * `ir` with every assigned weight stored at its precision. An int8 weight without a TF.js decision gets one here
 * (chooseTfjsShipping, against the input's float values). `reduceRange`: int8 codes in 7 bits (the static QDQ
 * encoding's weights, see StorageSpec).
 */
export function applyAssignment(ir: ModelIR, assignment: WeightAssignment[], granularity: Granularity, maxErrorRatio: number, reduceRange = false): ModelIR {
  const byKey = new Map(assignment.map((a) => [key(a.plan), a]));
  const quantize = (layer: string, w: WeightIR): WeightIR => {
    const a = byKey.get(`${layer}/${w.name}`);
    if (!a || a.precision === 'float32') return a ? { name: w.name, shape: [...w.shape], values: w.values.slice() } : w;
    if (a.precision !== 'int8') return quantizeWeight(w, storageFor(a.plan, a.precision, granularity, 'float32'));
    const q = quantizeWeight(w, storageFor(a.plan, 'int8', granularity, 'float32', reduceRange));
    if (!a.tfjs) {
      a.tfjsChoice = chooseTfjsShipping(w.values, q, maxErrorRatio);
      a.tfjs = a.tfjsChoice.written;
    }
    if (a.tfjs !== 'float32' && q.storage?.dtype === 'int8') q.storage = { ...q.storage, tfjs: a.tfjs };
    return q;
  };
  return { ...ir, layers: ir.layers.map((l) => ({ ...l, weights: l.weights.map((w) => quantize(l.name, w)) })) };
}

/** What the TF.js export writes for an assigned weight. */
export function tfjsWritten(a: WeightAssignment): Precision {
  return a.precision === 'int8' ? (a.tfjs ?? 'float32') : a.precision;
}
