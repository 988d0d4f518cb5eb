/**
 * Channel importance criteria: small interchangeable functions that score every channel class of the analysis.
 * A class's score aggregates its members (Torch-Pruning's group importance): each bound weight gives a local
 * score per class, normalised by that weight's mean so layers of different scales weigh alike, and the class
 * takes the mean over the weights it appears in. Only scores within one group are ever compared.
 */
import type { LabelledSet } from '../data/types.ts';
import type { ChannelAnalysis, WeightBinding } from '../graph/channel-groups.ts';
import type { ModelIR, WeightIR } from '../ir.ts';
import { activationScores, taylorScores } from './data-criteria.ts';

export const CRITERIA = ['l1', 'l2', 'fpgm', 'bn-scale', 'taylor', 'activation'] as const;
export type CriterionName = (typeof CRITERIA)[number];

export interface CriterionContext {
  ir: ModelIR;
  analysis: ChannelAnalysis;
  /** Samples for the data-driven criteria (taylor: gradients on training batches; activation: calibration). */
  data: LabelledSet;
  batchSize: number;
}

/** A per-index score along one bound weight axis, turned into per-class scores by `aggregate`. */
export interface LocalScore {
  binding: Pick<WeightBinding, 'classes'>;
  perIndex: Float64Array;
}

/** Score per class (NaN for classes that no criterion input touches). Higher = more important. */
export async function scoreClasses(name: CriterionName, ctx: CriterionContext): Promise<Float64Array> {
  switch (name) {
    case 'l1':
      return aggregate(ctx.analysis.classCount, kernelBindings(ctx).map((b) => local(b, weightOf(ctx.ir, b), absSum)));
    case 'l2':
      return aggregate(ctx.analysis.classCount, kernelBindings(ctx).map((b) => local(b, weightOf(ctx.ir, b), squareSum)), Math.sqrt);
    case 'fpgm':
      return aggregate(ctx.analysis.classCount, kernelBindings(ctx).filter((b) => b.role === 'out').map((b) => ({ binding: b, perIndex: medianDistance(weightOf(ctx.ir, b), b.axis) })));
    case 'bn-scale':
      return bnScale(ctx);
    case 'taylor':
      return aggregate(ctx.analysis.classCount, await taylorScores(ctx));
    case 'activation':
      return aggregate(ctx.analysis.classCount, await activationScores(ctx));
  }
}

/** Sums each local score per class, normalises by the weight's mean class score, averages over weights. */
export function aggregate(classCount: number, locals: LocalScore[], finish: (v: number) => number = (v) => v): Float64Array {
  const sum = new Float64Array(classCount);
  const count = new Float64Array(classCount);
  for (const { binding, perIndex } of locals) {
    const perClass = new Map<number, number>();
    binding.classes.forEach((k, i) => perClass.set(k, (perClass.get(k) ?? 0) + perIndex[i]!));
    const finished = [...perClass].map(([k, v]) => [k, finish(v)] as const);
    const mean = finished.reduce((s, [, v]) => s + v, 0) / finished.length;
    for (const [k, v] of finished) {
      sum[k] += mean > 0 ? v / mean : 0;
      count[k]! += 1;
    }
  }
  return sum.map((s, k) => (count[k] ? s / count[k]! : NaN));
}

function kernelBindings(ctx: CriterionContext): WeightBinding[] {
  return ctx.analysis.bindings.filter((b) => /kernel$/.test(b.weight));
}

export function weightOf(ir: ModelIR, b: Pick<WeightBinding, 'layer' | 'weight'>): WeightIR {
  const w = ir.layers.find((l) => l.name === b.layer)?.weights.find((x) => x.name === b.weight);
  if (!w) throw new Error(`IR has no weight ${b.layer}/${b.weight}`);
  return w;
}

const absSum = (acc: number, v: number) => acc + Math.abs(v);
const squareSum = (acc: number, v: number) => acc + v * v;

function local(binding: WeightBinding, w: WeightIR, reduce: (acc: number, v: number) => number): LocalScore {
  return { binding, perIndex: reduceAlongAxis(w.values, w.shape, binding.axis, reduce) };
}

/** For each index of `axis`, folds every value of that slice with `reduce` (starting at 0). */
export function reduceAlongAxis(values: ArrayLike<number>, shape: number[], axis: number, reduce: (acc: number, v: number) => number): Float64Array {
  const n = shape[axis]!;
  const inner = shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  for (let i = 0; i < values.length; i++) {
    const idx = Math.floor(i / inner) % n;
    out[idx] = reduce(out[idx]!, values[i]!);
  }
  return out;
}

/** FPGM: a filter's summed Euclidean distance to the layer's other filters; near the geometric median = redundant. */
function medianDistance(w: WeightIR, axis: number): Float64Array {
  const n = w.shape[axis]!;
  const inner = w.shape.slice(axis + 1).reduce((a, b) => a * b, 1);
  const outer = w.values.length / (n * inner);
  const filters = Array.from({ length: n }, () => new Float64Array(outer * inner));
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < inner; j++) filters[i]![o * inner + j] = w.values[(o * n + i) * inner + j]!;
    }
  }
  const dist = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      let s = 0;
      const [a, b] = [filters[i]!, filters[j]!];
      for (let t = 0; t < a.length; t++) s += (a[t]! - b[t]!) ** 2;
      const d = Math.sqrt(s);
      dist[i] += d;
      dist[j] += d;
    }
  }
  return dist;
}

/**
 * |γ| of the BatchNormalization on the group's channels (Network Slimming). A group without a BatchNormalization
 * over every removable class is scored by l1 instead, so its classes are still ranked by one measure.
 */
function bnScale(ctx: CriterionContext): Float64Array {
  const l1 = aggregate(ctx.analysis.classCount, kernelBindings(ctx).map((b) => local(b, weightOf(ctx.ir, b), absSum)));
  const gammas = ctx.analysis.bindings.filter((b) => b.weight === 'gamma');
  const gamma = aggregate(ctx.analysis.classCount, gammas.map((b) => local(b, weightOf(ctx.ir, b), absSum)));
  const scores = l1.slice();
  for (const g of ctx.analysis.groups) {
    const removable = g.classes.filter((k) => !g.blocked.has(k));
    const useGamma = removable.length > 0 && removable.every((k) => !Number.isNaN(gamma[k]!));
    if (useGamma) for (const k of g.classes) scores[k] = gamma[k]!;
  }
  return scores;
}

/** Groups scored by a fallback measure (bn-scale without a BatchNormalization), for the report. */
export function criterionFallbacks(name: CriterionName, analysis: ChannelAnalysis): string[] {
  if (name !== 'bn-scale') return [];
  const covered = new Set<number>();
  for (const b of analysis.bindings) if (b.weight === 'gamma') for (const k of b.classes) covered.add(k);
  return analysis.groups.filter((g) => g.classes.some((k) => !g.blocked.has(k) && !covered.has(k))).map((g) => g.name);
}
