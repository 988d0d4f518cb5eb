/**
 * Budget fallback: when a quantised artifact's validation accuracy leaves the stage's allowance, a sensitivity pass
 * measures, per layer, the validation accuracy its quantisation alone costs — with the numerics each format ships
 * (int8 codes for ONNX; the values tfjs decodes for TF.js) — and the costliest layers climb to higher precision
 * (stored: int8 → float16 → float32, uint8 → uint16 → float32; TF.js writing of int8: uint8 → uint16 → float32),
 * round-robin from the worst, until both artifacts hold the floor or nothing is left to raise.
 */
import type { ModelIR, WeightIR } from '../ir.ts';
import { valuesAsShippedToTfjs } from '../io/stored-weights.ts';
import type { StageContext } from '../stage.ts';
import { key, type WeightAssignment } from './assign.ts';
import { higherPrecisions } from './plan.ts';
import type { ShippedFormat } from './shipped.ts';

export interface LayerSensitivity {
  layer: string;
  /** Validation accuracy lost (vs the input model) when only this layer is quantised, per shipped numerics. */
  cost: Record<ShippedFormat, number>;
}

/** Per layer with assigned weights: the cost of quantising it alone, in `quantized`'s storage. */
export async function layerSensitivity(input: ModelIR, quantized: ModelIR, assignment: WeightAssignment[], ctx: StageContext): Promise<LayerSensitivity[]> {
  const reference = (await ctx.evaluateCandidate(input)).accuracy;
  const layers = [...new Set(assignment.filter((a) => a.precision !== 'float32').map((a) => a.plan.layer))];
  const assigned = new Set(assignment.map((a) => key(a.plan)));
  const out: LayerSensitivity[] = [];
  for (const name of layers) {
    const q = quantized.layers.find((l) => l.name === name)!;
    const only = (weights: (w: WeightIR) => WeightIR): ModelIR => ({
      ...input,
      layers: input.layers.map((l) => (l.name === name ? { ...l, weights: q.weights.map((w) => (assigned.has(`${name}/${w.name}`) ? weights(w) : l.weights.find((x) => x.name === w.name)!)) } : l)),
    });
    const onnx = (await ctx.evaluateCandidate(only((w) => w))).accuracy;
    const tfjs = (await ctx.evaluateCandidate(only((w) => ({ name: w.name, shape: [...w.shape], values: valuesAsShippedToTfjs(w) })))).accuracy;
    out.push({ layer: name, cost: { onnx: reference - onnx, tfjs: reference - tfjs } });
    ctx.log(`sensitivity ${name}: costs ${((reference - onnx) * 100).toFixed(2)} points as stored (ONNX), ${((reference - tfjs) * 100).toFixed(2)} as tfjs decodes it`);
  }
  return out;
}

/** One rung up for `a` in `format`'s numerics; false when it is already at the top there. */
function raise(a: WeightAssignment, format: ShippedFormat, why: string): boolean {
  if (format === 'tfjs' && a.precision === 'int8' && a.tfjs && a.tfjs !== 'float32') {
    const to = a.tfjs === 'uint8' ? 'uint16' : 'float32';
    a.raised.push(`tfjs ${a.tfjs} → ${to}: ${why}`);
    a.tfjs = to;
    return true;
  }
  const next = higherPrecisions(a.precision)[0];
  if (!next) return false;
  a.raised.push(`${a.precision} → ${next}: ${why}`);
  a.precision = next;
  if (next !== 'int8') delete a.tfjs;
  return true;
}

/**
 * Raises the next layer (in order of cost in `format`'s numerics, worst first, round-robin over passes) that can
 * still climb. Returns the layer raised, or undefined when none can.
 */
export function raiseNext(sens: LayerSensitivity[], assignment: WeightAssignment[], format: ShippedFormat, turn: Map<string, number>, why: string): string | undefined {
  const order = [...sens].sort((a, b) => b.cost[format] - a.cost[format]);
  // The layer raised fewest times in this format so far, worst first among equals.
  const candidates = order.map((s) => ({ s, times: turn.get(`${format}:${s.layer}`) ?? 0 })).sort((a, b) => a.times - b.times);
  for (const { s } of candidates) {
    const weights = assignment.filter((a) => a.plan.layer === s.layer);
    let raised = false;
    for (const a of weights) raised = raise(a, format, `${why}; the layer costs ${(s.cost[format] * 100).toFixed(2)} points quantised alone`) || raised;
    if (raised) {
      turn.set(`${format}:${s.layer}`, (turn.get(`${format}:${s.layer}`) ?? 0) + 1);
      return s.layer;
    }
  }
  return undefined;
}
