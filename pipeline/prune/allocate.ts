/**
 * From per-group ratios to a concrete plan (which classes go), and the size of the model a plan leaves.
 * Within a group the least important removable classes go first; every producer keeps at least `minChannels`, and
 * a pruned group keeps a multiple of `roundTo` channels (Torch-Pruning's round_to: the kept count is rounded up, so
 * a group smaller than roundTo is left whole) — channel counts that suit SIMD widths and GEMM tiles.
 */
import type { ChannelAnalysis, ChannelGroup } from '../graph/channel-groups.ts';
import { countMacs } from '../graph/macs.ts';
import { serializeModel } from '../io/write-model.ts';
import { countParams, type ModelIR } from '../ir.ts';
import { removeChannels } from './remove-channels.ts';

export type SizeMetric = 'params' | 'macs' | 'bytes';
export type Sizes = Record<SizeMetric, number>;

export interface Planner {
  analysis: ChannelAnalysis;
  /** Groups the plan may touch (at least one removable class and no fixed ratio of 0). */
  groups: ChannelGroup[];
  /** Per group id: removable classes, least important first. */
  order: Map<number, number[]>;
  minChannels: number;
  /** Kept channel counts of pruned groups are multiples of this (1: any count). */
  roundTo: number;
}

export function createPlanner(analysis: ChannelAnalysis, scores: Float64Array, minChannels: number, roundTo = 1): Planner {
  const order = new Map<number, number[]>();
  for (const g of analysis.groups) {
    const removable = g.classes.filter((k) => !g.blocked.has(k));
    const score = (k: number) => (Number.isNaN(scores[k]!) ? Number.POSITIVE_INFINITY : scores[k]!);
    order.set(g.id, removable.sort((a, b) => score(a) - score(b) || a - b));
  }
  const groups = analysis.groups.filter((g) => order.get(g.id)!.length > 0);
  return { analysis, groups, order, minChannels, roundTo };
}

/**
 * How many of a group's `total` classes to remove for `ratio` when only `removable` of them may go: the kept count
 * is rounded up to a multiple of `roundTo` (and to at least minChannels, rounded up too).
 */
export function removalCount(total: number, removable: number, ratio: number, roundTo: number, minChannels: number): number {
  const up = (n: number) => Math.ceil(n / roundTo) * roundTo;
  const wanted = Math.min(removable, Math.floor(ratio * total + 1e-9));
  const keep = Math.max(up(total - wanted), up(minChannels));
  return Math.max(0, total - keep);
}

/** Classes to remove so that each group loses floor(ratio × its channels), least important first. */
export function planFromRatios(p: Planner, ratios: ReadonlyMap<number, number>): Set<number> {
  const removed = new Set<number>();
  const kept = new Map([...p.analysis.producerClasses].map(([n, c]) => [n, c.length]));
  const producersOf = producerChannelCounts(p.analysis);
  for (const g of p.groups) {
    const ratio = ratios.get(g.id) ?? 0;
    let n = removalCount(g.classes.length, p.order.get(g.id)!.length, ratio, p.roundTo, p.minChannels);
    for (const k of p.order.get(g.id)!) {
      if (n <= 0) break;
      const losses = producersOf.get(k) ?? new Map<string, number>();
      if ([...losses].some(([name, count]) => kept.get(name)! - count < p.minChannels)) continue;
      for (const [name, count] of losses) kept.set(name, kept.get(name)! - count);
      removed.add(k);
      n--;
    }
  }
  return removed;
}

/** For each class, how many output channels of each producer it holds. */
function producerChannelCounts(a: ChannelAnalysis): Map<number, Map<string, number>> {
  const cached = countsCache.get(a);
  if (cached) return cached;
  const result = new Map<number, Map<string, number>>();
  for (const [name, classes] of a.producerClasses) {
    for (const k of classes) {
      const m = result.get(k) ?? new Map<string, number>();
      m.set(name, (m.get(name) ?? 0) + 1);
      result.set(k, m);
    }
  }
  countsCache.set(a, result);
  return result;
}
const countsCache = new WeakMap<ChannelAnalysis, Map<number, Map<string, number>>>();

/** Parameters, MACs per sample (NaN when the graph has layers countMacs cannot shape) and float32 file bytes. */
export function measureSizes(ir: ModelIR): Sizes {
  let macs = Number.NaN;
  try {
    macs = countMacs(ir).total;
  } catch {
    // An unknown layer class: MACs are not reported, the rest still is.
  }
  const { modelJson, shards } = serializeModel(ir, { shardBytes: Number.MAX_SAFE_INTEGER });
  const bytes = Buffer.byteLength(JSON.stringify(modelJson)) + shards.reduce((n, s) => n + s.length, 0);
  return { params: countParams(ir), macs, bytes };
}

/** Size of the model `removed` leaves, memoised per plan (the search asks for the same plans repeatedly). */
export function sizeOfPlan(ir: ModelIR, analysis: ChannelAnalysis, removed: Set<number>, memo: Map<string, Sizes>): Sizes {
  const key = [...removed].sort((a, b) => a - b).join(',');
  let s = memo.get(key);
  if (!s) memo.set(key, (s = measureSizes(removeChannels(ir, analysis, removed))));
  return s;
}
