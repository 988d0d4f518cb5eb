/**
 * How much to prune each group. A per-group sensitivity analysis (prune one group alone at a few ratios,
 * measure validation accuracy) gives each group a drop-vs-ratio curve; a tolerance τ then allocates to every group
 * the largest ratio whose own drop stays ≤ τ (curves are made monotone and interpolated). Raising τ shrinks the
 * model, so a size goal becomes a τ by bisection — no evaluation needed for that part.
 *
 * The budget search evaluates allocations at a ladder of model sizes (then refines between the smallest that
 * passed and the next one down) and returns the smallest that passes — the best, not the first. Every
 * evaluation is an independent job on one p-queue with the caller's concurrency.
 */
import PQueue from 'p-queue';
import type { ChannelGroup } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import { planFromRatios, sizeOfPlan, type Planner, type SizeMetric, type Sizes } from './allocate.ts';

export interface CandidateScore {
  accuracy: number;
  loss: number;
}
export type EvaluatePlan = (removed: Set<number>) => Promise<CandidateScore>;

export interface GroupSensitivity {
  group: string;
  groupId: number;
  /** (ratio, validation accuracy) with ratio 0 = the input model. */
  points: { ratio: number; accuracy: number }[];
}

export interface ExploredPoint {
  /** The chosen size metric as a fraction of the input model's. */
  fraction: number;
  sizes: Sizes;
  strategy: 'sensitivity' | 'uniform';
  /** Per group name: the share of its channels removed. */
  ratios: Record<string, number>;
  accuracy: number;
  loss: number;
  /** Accuracy under a monotone fit over all explored points (smaller model, no better accuracy): what `passed` uses. */
  smoothedAccuracy: number;
  passed: boolean;
}

export interface SearchSpace {
  ir: ModelIR;
  planner: Planner;
  /** Groups the search allocates (the others keep `fixed` ratios). */
  free: ChannelGroup[];
  fixed: Map<number, number>;
  maxRatio: number;
  metric: SizeMetric;
  inputSizes: Sizes;
  memo: Map<string, Sizes>;
}

export interface SensitivityOptions {
  /** Most evaluations the analysis may spend; the ratio grid thins out to fit (at least one ratio per group). */
  maxEvaluations?: number;
  /** Called after each evaluated point (for progress lines). */
  onEvaluated?: (done: number, total: number) => void;
  /**
   * Evaluates all the analysis's plans in one call (results in their order) instead of one `evaluate` each: so that
   * candidates can share the forward pass up to their first pruned layer (pipeline/prune/shared-evaluation.ts).
   */
  evaluateAll?: (plans: Set<number>[], onEvaluated?: (done: number, total: number) => void) => Promise<CandidateScore[]>;
}

/**
 * Each free group pruned alone at each ratio. A ratio whose plan removes nothing (roundTo, minChannels) or the same
 * channels as the previous ratio is not evaluated again. With `maxEvaluations` below groups × ratios, each group gets
 * the evenly spread subset of the grid that fits (`thinGrid`).
 */
export async function sensitivityAnalysis(space: SearchSpace, ratios: number[], baseAccuracy: number, evaluate: EvaluatePlan, queue: PQueue, opts: SensitivityOptions = {}): Promise<GroupSensitivity[]> {
  const full = [...new Set(ratios.map((r) => Math.min(r, space.maxRatio)))].sort((a, b) => a - b);
  const perGroup = opts.maxEvaluations === undefined ? full.length : Math.floor(opts.maxEvaluations / Math.max(1, space.free.length));
  const grid = thinGrid(full, Math.max(1, perGroup));
  const jobs = space.free.map((g) => {
    const plans: { ratio: number; removed: Set<number> }[] = [];
    for (const ratio of grid) {
      const removed = planFromRatios(space.planner, new Map([[g.id, ratio]]));
      plans.push({ ratio, removed });
    }
    return { g, plans };
  });
  const keyOf = (r: Set<number>) => [...r].sort((a, b) => a - b).join(',');
  const total = new Set(jobs.flatMap((j) => j.plans.filter((p) => p.removed.size > 0).map((p) => keyOf(p.removed)))).size;
  let done = 0;
  const seen = new Map<string, Promise<number>>();
  if (opts.evaluateAll) {
    const unique = new Map<string, Set<number>>();
    for (const j of jobs) for (const p of j.plans) if (p.removed.size > 0 && !unique.has(keyOf(p.removed))) unique.set(keyOf(p.removed), p.removed);
    const scores = opts.evaluateAll([...unique.values()], opts.onEvaluated);
    [...unique.keys()].forEach((key, i) => seen.set(key, scores.then((s) => s[i]!.accuracy)));
  }
  const accuracyOf = (removed: Set<number>) => {
    if (removed.size === 0) return Promise.resolve(baseAccuracy);
    const key = keyOf(removed);
    let a = seen.get(key);
    if (!a) {
      a = queue.add(async () => {
        const acc = (await evaluate(removed)).accuracy;
        opts.onEvaluated?.(++done, total);
        return acc;
      }) as Promise<number>;
      seen.set(key, a);
    }
    return a;
  };
  return Promise.all(
    jobs.map(async ({ g, plans }) => {
      const points = await Promise.all(plans.map(async (p) => ({ ratio: p.ratio, accuracy: await accuracyOf(p.removed) })));
      return { group: g.name, groupId: g.id, points: [{ ratio: 0, accuracy: baseAccuracy }, ...points] };
    }),
  );
}

/**
 * The free groups that hold the most of the search metric, at most `count` of them: what each would save pruned
 * alone at `maxRatio`, largest first (ties keep the graph's order). With more groups than the sensitivity analysis
 * can afford one point each (MobileNetV2: 25 groups at tens of seconds a point), the analysis measures these and the
 * rest keep their channels — a group holding 0.1% of the parameters cannot bring a size goal much closer.
 */
export function largestGroups(space: SearchSpace, count: number): SearchSpace['free'] {
  const saving = new Map(space.free.map((g) => [g.id,
    space.inputSizes[space.metric] - sizeOfPlan(space.ir, space.planner.analysis, planFromRatios(space.planner, new Map([[g.id, space.maxRatio]])), space.memo)[space.metric]]));
  return space.free
    .map((g, i) => ({ g, i }))
    .sort((a, b) => saving.get(b.g.id)! - saving.get(a.g.id)! || a.i - b.i)
    .slice(0, Math.max(0, count))
    .sort((a, b) => a.i - b.i)
    .map(({ g }) => g);
}

/** `k` of the sorted grid's ratios, spread evenly (k = 1: the one just below the middle, e.g. 0.5 of 0.25…0.9). */
export function thinGrid(grid: number[], k: number): number[] {
  if (k >= grid.length) return grid;
  return [...new Set(Array.from({ length: k }, (_, i) => grid[Math.ceil(((i + 1) * grid.length) / (k + 1)) - 1]!))];
}

/** Largest ratio per free group whose (monotone, interpolated) drop stays ≤ tau. */
export function ratiosAtTolerance(space: SearchSpace, sens: GroupSensitivity[], tau: number): Map<number, number> {
  const ratios = new Map(space.fixed);
  for (const s of sens) {
    const base = s.points[0]!.accuracy;
    let envelope = 0;
    let ratio = 0;
    for (let i = 1; i < s.points.length; i++) {
      const [prev, cur] = [s.points[i - 1]!, s.points[i]!];
      const prevDrop = envelope;
      envelope = Math.max(envelope, base - cur.accuracy);
      if (envelope <= tau) {
        ratio = cur.ratio;
        continue;
      }
      ratio = prev.ratio + ((tau - prevDrop) / (envelope - prevDrop)) * (cur.ratio - prev.ratio);
      break;
    }
    ratios.set(s.groupId, Math.min(ratio, space.maxRatio));
  }
  return ratios;
}

export function uniformRatios(space: SearchSpace, ratio: number): Map<number, number> {
  const ratios = new Map(space.fixed);
  for (const g of space.free) ratios.set(g.id, ratio);
  return ratios;
}

/** Bisection on a knob (larger = smaller model) for the least pruning whose size is ≤ the goal; undefined if unreachable. */
function fitKnob(space: SearchSpace, goal: number, hi: number, ratiosAt: (knob: number) => Map<number, number>): Map<number, number> | undefined {
  const size = (knob: number) => sizeOfPlan(space.ir, space.planner.analysis, planFromRatios(space.planner, ratiosAt(knob)), space.memo)[space.metric];
  if (size(hi) > goal) return undefined;
  let lo = 0;
  if (size(lo) <= goal) return ratiosAt(lo);
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (size(mid) <= goal) hi = mid;
    else lo = mid;
  }
  return ratiosAt(hi);
}

export function allocationForFraction(space: SearchSpace, sens: GroupSensitivity[] | undefined, fraction: number): Map<number, number> | undefined {
  const goal = fraction * space.inputSizes[space.metric];
  if (!sens) return fitKnob(space, goal, space.maxRatio, (r) => uniformRatios(space, r));
  const maxDrop = Math.max(0, ...sens.flatMap((s) => s.points.map((p) => s.points[0]!.accuracy - p.accuracy))) + 1e-6;
  return fitKnob(space, goal, maxDrop, (tau) => ratiosAtTolerance(space, sens, tau));
}

/** A removal plan's identity: its classes in order (equal plans, equal keys). */
export const planKey = (removed: ReadonlySet<number>): string => [...removed].sort((a, b) => a - b).join(',');

/** The exact plan (removed classes) behind each explored point. */
export const planOfPoint = new WeakMap<ExploredPoint, Set<number>>();

/** Evaluates the allocation (deduplicated by plan) and records it as an explored point. */
export function explorer(space: SearchSpace, evaluate: EvaluatePlan, queue: PQueue, onEvaluated?: (done: number, total: number) => void) {
  const seen = new Map<string, Promise<ExploredPoint>>();
  let done = 0;
  const groupName = new Map(space.planner.analysis.groups.map((g) => [g.id, g.name]));
  return (ratios: Map<number, number>, strategy: ExploredPoint['strategy']): Promise<ExploredPoint> => {
    const removed = planFromRatios(space.planner, ratios);
    const key = planKey(removed);
    let point = seen.get(key);
    if (!point) {
      point = queue.add(async () => {
        const sizes = sizeOfPlan(space.ir, space.planner.analysis, removed, space.memo);
        const score = await evaluate(removed);
        onEvaluated?.(++done, seen.size);
        const named: Record<string, number> = {};
        for (const [id, r] of ratios) if (r > 0) named[groupName.get(id)!] = round(removedShare(space, id, removed));
        const p: ExploredPoint = { fraction: sizes[space.metric] / space.inputSizes[space.metric], sizes, strategy, ratios: named, accuracy: score.accuracy, loss: score.loss, smoothedAccuracy: score.accuracy, passed: false };
        planOfPoint.set(p, removed);
        return p;
      });
      seen.set(key, point);
    }
    return point;
  };
}

function removedShare(space: SearchSpace, groupId: number, removed: Set<number>): number {
  const g = space.planner.analysis.groups[groupId]!;
  return g.classes.filter((k) => removed.has(k)).length / g.classes.length;
}

const round = (v: number) => Math.round(v * 1e4) / 1e4;

/**
 * Sizes (of the search metric, as fractions of the input model) the one-shot search tries: from a mild cut — a
 * compact network such as MobileNetV2 passes nothing at ½, and a trained one at 224×224 misses the floor at ×0.8
 * before fine-tuning (README, MobileNetV2 bench) — down to 1/33 for over-parameterised ones.
 */
export const SIZE_LADDER = [0.9, 0.8, 0.65, 0.5, 0.35, 0.25, 0.18, 0.125, 0.09, 0.0625, 0.045, 0.03];

/**
 * Rungs measured at once, largest first. The ladder stops after a wave whose every rung misses the floor: accuracy
 * falls as the model shrinks, so the smaller rungs would miss it too, and on a 224×224 network each rung costs a
 * reconstruction and a validation pass (tens of seconds). A fixed size, not the machine's concurrency, so which
 * rungs are measured — and the result — does not depend on the machine.
 */
export const LADDER_WAVE = 2;

/**
 * Validation accuracy of one candidate is noisy (a few samples on a small split), and a smaller model that
 * "passes" while larger ones fail is almost always luck. So pass/fail is judged on an isotonic fit (pool adjacent
 * violators): accuracy non-increasing as the model shrinks.
 */
export function judge(points: ExploredPoint[], floor: number): void {
  const sorted = [...points].sort((a, b) => b.fraction - a.fraction);
  const blocks: { sum: number; n: number; members: ExploredPoint[] }[] = [];
  for (const p of sorted) {
    blocks.push({ sum: p.accuracy, n: 1, members: [p] });
    while (blocks.length > 1 && blocks.at(-1)!.sum / blocks.at(-1)!.n > blocks.at(-2)!.sum / blocks.at(-2)!.n) {
      const last = blocks.pop()!;
      const prev = blocks.at(-1)!;
      prev.sum += last.sum;
      prev.n += last.n;
      prev.members.push(...last.members);
    }
  }
  for (const b of blocks) {
    for (const p of b.members) {
      p.smoothedAccuracy = b.sum / b.n;
      p.passed = p.smoothedAccuracy >= floor - 1e-9;
    }
  }
}

/**
 * The smallest allocation (by `space.metric`) that passes, exploring the size ladder and then `refineSteps`
 * points between the smallest passing rung and the next one down.
 */
export async function searchSmallestPassing(
  space: SearchSpace, sens: GroupSensitivity[] | undefined, explore: ReturnType<typeof explorer>, floor: number, refineSteps: number, ladder = SIZE_LADDER,
): Promise<ExploredPoint[]> {
  const tryFraction = (f: number) => {
    const ratios = allocationForFraction(space, sens, f);
    return ratios ? explore(ratios, sens ? 'sensitivity' : 'uniform') : undefined;
  };
  const measured: ExploredPoint[] = [];
  for (let i = 0; i < ladder.length; i += LADDER_WAVE) {
    const wave = (await Promise.all(ladder.slice(i, i + LADDER_WAVE).map(tryFraction))).filter((p): p is ExploredPoint => p !== undefined);
    measured.push(...wave);
    if (wave.length > 0 && wave.every((p) => p.accuracy < floor - 1e-9)) break;
  }
  const points = dedupe(measured);
  judge(points, floor);
  const best = smallestPassing(points);
  if (best && refineSteps > 0) {
    const below = points.filter((p) => p.fraction < best.fraction).sort((a, b) => b.fraction - a.fraction)[0];
    const lowest = below?.fraction ?? best.fraction / 2;
    const steps = Array.from({ length: refineSteps }, (_, i) => best.fraction * (lowest / best.fraction) ** ((i + 1) / (refineSteps + 1)));
    points.push(...(await Promise.all(steps.map(tryFraction))).filter((p): p is ExploredPoint => p !== undefined));
  }
  const all = dedupe(points);
  judge(all, floor);
  return all;
}

function dedupe(points: ExploredPoint[]): ExploredPoint[] {
  return [...new Set(points)].sort((a, b) => b.fraction - a.fraction);
}

/** Best passing point: the smallest model; ties go to the higher accuracy. */
export function smallestPassing(points: ExploredPoint[]): ExploredPoint | undefined {
  return points.filter((p) => p.passed).sort((a, b) => a.fraction - b.fraction || b.accuracy - a.accuracy)[0];
}

/** With a size target: the most accurate of the allocations that reach it (sensitivity-based and uniform). */
export async function searchForTarget(space: SearchSpace, sens: GroupSensitivity[] | undefined, fraction: number, explore: ReturnType<typeof explorer>, floor: number): Promise<ExploredPoint[]> {
  const jobs: Promise<ExploredPoint>[] = [];
  const bySensitivity = sens && allocationForFraction(space, sens, fraction);
  if (bySensitivity) jobs.push(explore(bySensitivity, 'sensitivity'));
  const uniform = allocationForFraction(space, undefined, fraction);
  if (uniform) jobs.push(explore(uniform, 'uniform'));
  const points = dedupe(await Promise.all(jobs));
  for (const p of points) [p.smoothedAccuracy, p.passed] = [p.accuracy, p.accuracy >= floor - 1e-9];
  return points;
}

export function newQueue(concurrency: number): PQueue {
  return new PQueue({ concurrency });
}
