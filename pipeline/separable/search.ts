/**
 * Which layers to replace, and at which size. A sensitivity pass replaces one layer at a time at each size that
 * pays (refitted) and measures validation accuracy. Then a greedy path: starting from no replacement, each step
 * takes the move — a layer to a smaller size — with the lowest accuracy cost per parameter saved (drops made
 * monotone in compression per layer), until every layer is at its smallest size. The plans along the path are
 * ever smaller; the search evaluates them (replaced together, refitted in order) and keeps the furthest one whose
 * validation accuracy stays at or above the floor, by bisection (accuracy is taken to fall along the path).
 */
import type { Candidate, Option } from './candidates.ts';

export interface SensitivityPoint extends Option {
  valAccuracy: number;
  valLoss: number;
  relErrorBefore?: number;
  relErrorAfter?: number;
}

export interface LayerSensitivity {
  layer: string;
  /** Largest size first (least compression). */
  points: SensitivityPoint[];
}

export interface PathStep {
  /** The layer this step changes, and its new size. */
  layer: string;
  size: number;
  /** Parameters saved by the whole plan after this step. */
  saved: number;
  /** Sum of the single-layer drops of the plan (the greedy's estimate). */
  estimatedDrop: number;
  /** Set when the search evaluated this plan. */
  valAccuracy?: number;
  passed?: boolean;
}

type Plan = Map<string, number>;

/**
 * The greedy path. `base` is the input model's validation accuracy; `fixed` layers keep their given size and take
 * no part.
 */
export function greedyPath(candidates: Candidate[], sensitivity: LayerSensitivity[], base: number): { steps: PathStep[]; plans: Plan[] } {
  const byLayer = new Map(sensitivity.map((s) => [s.layer, s]));
  // Per layer: options from least to most compression, with monotone drops.
  const ladders = candidates.filter((c) => byLayer.has(c.layer)).map((c) => {
    let envelope = 0;
    const rungs = byLayer.get(c.layer)!.points.map((p) => {
      envelope = Math.max(envelope, base - p.valAccuracy, 0);
      return { size: p.size, saved: c.params - p.params, drop: envelope };
    });
    return { layer: c.layer, rungs, at: -1 };
  });
  const steps: PathStep[] = [];
  const plans: Plan[] = [];
  const plan: Plan = new Map();
  let saved = 0;
  let drop = 0;
  for (;;) {
    let best: { ladder: (typeof ladders)[number]; to: number; cost: number } | undefined;
    for (const ladder of ladders) {
      const cur = ladder.at < 0 ? { saved: 0, drop: 0 } : ladder.rungs[ladder.at]!;
      for (let k = ladder.at + 1; k < ladder.rungs.length; k++) {
        const r = ladder.rungs[k]!;
        const gain = r.saved - cur.saved;
        if (gain <= 0) continue;
        const cost = (r.drop - cur.drop) / gain;
        if (!best || cost < best.cost - 1e-15) best = { ladder, to: k, cost };
      }
    }
    if (!best) break;
    const { ladder, to } = best;
    const from = ladder.at < 0 ? { saved: 0, drop: 0 } : ladder.rungs[ladder.at]!;
    const rung = ladder.rungs[to]!;
    saved += rung.saved - from.saved;
    drop += rung.drop - from.drop;
    ladder.at = to;
    plan.set(ladder.layer, rung.size);
    steps.push({ layer: ladder.layer, size: rung.size, saved, estimatedDrop: drop });
    plans.push(new Map(plan));
  }
  return { steps, plans };
}

/**
 * The furthest step whose plan passes (`evaluate` returns validation accuracy), by bisection over the path; -1 when
 * even the first step fails. Records every evaluation on the steps.
 */
export async function furthestPassing(steps: PathStep[], plans: Plan[], floor: number, evaluate: (plan: Plan) => Promise<number>): Promise<number> {
  let lo = -1; // passes (no replacement)
  let hi = steps.length; // fails (beyond the path)
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    const accuracy = await evaluate(plans[mid]!);
    steps[mid]!.valAccuracy = accuracy;
    steps[mid]!.passed = accuracy >= floor - 1e-9;
    if (steps[mid]!.passed) lo = mid;
    else hi = mid;
  }
  return lo;
}

/**
 * The step after the furthest passing one (`chosen`, -1 for none) when the search evaluated it and it reached at
 * least `reachFloor`: a near miss worth fine-tuning before giving up on it. -1 otherwise.
 */
export function nearMiss(steps: PathStep[], chosen: number, reachFloor: number): number {
  const next = steps[chosen + 1];
  return next?.valAccuracy !== undefined && !next.passed && next.valAccuracy >= reachFloor - 1e-9 ? chosen + 1 : -1;
}
