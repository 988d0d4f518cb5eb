/**
 * From per-group ratios to a concrete plan (which classes go), and the size of the model a plan leaves.
 * Within a group the least important removable classes go first; every producer keeps at least `minChannels`.
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
}

export function createPlanner(analysis: ChannelAnalysis, scores: Float64Array, minChannels: number): Planner {
  const order = new Map<number, number[]>();
  for (const g of analysis.groups) {
    const removable = g.classes.filter((k) => !g.blocked.has(k));
    const score = (k: number) => (Number.isNaN(scores[k]!) ? Number.POSITIVE_INFINITY : scores[k]!);
    order.set(g.id, removable.sort((a, b) => score(a) - score(b) || a - b));
  }
  const groups = analysis.groups.filter((g) => order.get(g.id)!.length > 0);
  return { analysis, groups, order, minChannels };
}

/** Classes to remove so that each group loses floor(ratio × its channels), least important first. */
export function planFromRatios(p: Planner, ratios: ReadonlyMap<number, number>): Set<number> {
  const removed = new Set<number>();
  const kept = new Map([...p.analysis.producerClasses].map(([n, c]) => [n, c.length]));
  const producersOf = producerChannelCounts(p.analysis);
  for (const g of p.groups) {
    const ratio = ratios.get(g.id) ?? 0;
    let n = Math.floor(ratio * g.classes.length + 1e-9);
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
