/**
 * Weight reconstruction after channel removal (AIMET's channel pruning; He et al. 2017): each consumer layer that
 * lost input channels is refitted by ridge least squares so that, on calibration samples, its pre-activation output
 * from the *pruned* network's activations matches the *original* network's. Consumers are refitted in topological
 * order on a live pruned model, so each fit sees the corrections made upstream; consumers that do not feed one
 * another form a wave and share one calibration pass. Forward passes only.
 *
 * A consumer is refitted (pipeline/recovery/refit.ts, shared with separable replacement) when its class declares a
 * `linearRows` view (pipeline/layers/: Dense, convolutions); others keep their sliced weights. Rows are sampled
 * (image, output position) pairs streamed from the calibration images (calibration-rows.ts), so a fit holds at most `maxRows` rows — fewer when the memory budget says so — never whole
 * feature maps. The original model's rows are shared by every candidate of a search, in a bounded cache.
 */
import type { ActivationEngine } from '../calibrate.ts';
import type { LabelledSet } from '../data/types.ts';
import { cloneIR, type LayerIR, type ModelIR } from '../ir.ts';
import { footprint } from '../memory.ts';
import { calibrationBatch, collectRows, featuresOf, RowCache, rowsWithin, sampleRows, type CalibrationSource, type RowSampling, type Rows } from '../recovery/calibration-rows.ts';
import { collectRowsFromCut, cutActivations } from '../recovery/cut-rows.ts';
import { isRefittable, refitLayer } from '../recovery/refit.ts';
import { layerShapes } from './model-shapes.ts';
import { keptIndices } from './remove-channels.ts';
import type { ChannelAnalysis } from '../graph/channel-groups.ts';

export interface ReconstructOptions {
  /** Calibration images: a set (all of it) or chosen samples of one. */
  calibration: LabelledSet | CalibrationSource;
  /** Ridge strength relative to the features' mean square (see solveRidge). */
  ridge: number;
  /** Most rows (sampled image positions) one layer's fit uses. */
  maxRows: number;
  /** Working memory of one fit and one calibration pass, in bytes: lowers the rows and the batch size to fit. */
  memoryBytes?: number;
  /** Bytes of the original model's rows kept between runs (least recently used go first). */
  cacheBytes?: number;
  /** Calibration pass batch size (at most; the memory budget may lower it). */
  batchSize?: number;
  /**
   * Most calibration passes one run makes. Each wave of consumers is one pass over the pruned model; with more
   * waves than this (a deep chain, e.g. MobileNetV2's 35 consumers), consecutive waves share a pass, and a fit then
   * does not see the corrections of the earlier fits in its own pass. Default: no limit.
   */
  maxPasses?: number;
  seed: number;
  /** Engine that reads the calibration activations (default 'auto': onnxruntime when the model exports). */
  engine?: ActivationEngine;
  /** Passes run only the candidate's layers past its cut, on the input model's activations there (default true). */
  fromCut?: boolean;
}

export interface ReconstructTarget {
  /** A consumer that lost input channels. */
  layer: string;
  /** Original output channels it keeps (it may itself have been pruned). */
  keptOutputs: number[];
}

export interface LayerFit {
  layer: string;
  rows: number;
  features: number;
  /** Mean squared error of the layer's pre-activation output on the calibration rows, before and after the fit. */
  mseBefore: number;
  mseAfter: number;
}

export interface Reconstructor {
  /**
   * `pruned` with its consumers refitted (a new IR), how each fit went, and the cut tensors its passes started from
   * (undefined: they ran the whole candidate).
   */
  run(pruned: ModelIR, targets: ReconstructTarget[]): Promise<{ ir: ModelIR; fits: LayerFit[]; cut?: string[] }>;
  /** Rows each consumer's fit uses (what the memory budget allowed). */
  rowsOf(layer: string): number | undefined;
  dispose(): void;
}

const DEFAULT_MEMORY = 512 * 1024 * 1024;

/** Keeps the original model and a bounded cache of its calibration rows, which every candidate of a search shares. */
export async function createReconstructor(original: ModelIR, opts: ReconstructOptions): Promise<Reconstructor> {
  const source: CalibrationSource = 'order' in opts.calibration ? opts.calibration : { set: opts.calibration, order: Array.from({ length: opts.calibration.count }, (_, i) => i) };
  const memory = opts.memoryBytes ?? DEFAULT_MEMORY;
  const shapes = await layerShapes(original);
  const byName = new Map(original.layers.map((l) => [l.name, l]));
  const samplings = new Map<string, RowSampling>();
  const samplingOf = (name: string) => {
    let s = samplings.get(name);
    if (!s) {
      const layer = byName.get(name)!;
      const inShape = shapes.get(layer.inputs[0]!)!;
      const rows = rowsWithin(layer, opts.maxRows, memory / 2);
      samplings.set(name, (s = sampleRows(layer, inShape, source.order.length, rows, opts.seed)));
    }
    return s;
  };
  const f = footprint(original);
  const passBatch = (wave: RowSampling[]) => calibrationBatch(f, shapes, wave, opts.batchSize ?? 256, memory / 2);
  const cache = new RowCache(opts.cacheBytes ?? memory);
  const consumers = original.layers.filter(isRefittable).map((l) => l.name).filter((n) => shapes.has(byName.get(n)!.inputs[0]!));
  let prefetched = false;
  const teacherRows = async (wave: RowSampling[]): Promise<Map<string, Rows>> => {
    let missing = wave.filter((s) => !cache.has(s.layer));
    if (missing.length > 0 && !prefetched) {
      // First use: when every consumer's rows fit the cache, one pass reads them all (a search needs most of them).
      prefetched = true;
      const all = consumers.map(samplingOf);
      const bytes = all.reduce((n, s) => n + 4 * s.rows * featuresOf(byName.get(s.layer)!), 0);
      if (bytes <= cache.budget) missing = all;
    }
    if (missing.length > 0) {
      for (const [layer, rows] of await collectRows(original, missing, source, { batchSize: passBatch(missing), engine: opts.engine })) cache.set(layer, rows);
    }
    return new Map(wave.map((s) => [s.layer, cache.get(s.layer) ?? never(s.layer)]));
  };
  return {
    async run(pruned, targets) {
      const out = cloneIR(pruned);
      const order = new Map(out.layers.map((l, i) => [l.name, i]));
      const todo = targets.filter((t) => isRefittable(out.layers[order.get(t.layer)!]!)).sort((a, b) => order.get(a.layer)! - order.get(b.layer)!);
      const fits: LayerFit[] = [];
      const passes = mergeWaves(waves(out, todo), opts.maxPasses ?? Number.POSITIVE_INFINITY);
      // With several passes, the input model's activations at the candidate's cut are computed once and each pass
      // runs only the candidate's layers past it (cut-rows.ts); a cut too large for the budget is not used.
      const all = todo.map((t) => samplingOf(t.layer));
      const cut = passes.length > 1 && opts.engine !== 'tfjs' && opts.fromCut !== false
        ? await cutActivations(original, out, all, source, { maxBytes: memory / 4, batchSize: passBatch(all) })
        : undefined;
      let fromCut = cut !== undefined;
      for (const wave of passes) {
        const waveSamplings = wave.map((t) => samplingOf(t.layer));
        const teacher = await teacherRows(waveSamplings);
        // Read from `out` as it is now: refit() updates its weights in place, so upstream fits are seen.
        const suffixRows = cut && (await collectRowsFromCut(out, cut, waveSamplings, passBatch(waveSamplings)));
        fromCut &&= suffixRows !== undefined;
        const fresh = suffixRows ?? (await collectRows(out, waveSamplings, source, { batchSize: passBatch(waveSamplings), engine: opts.engine }));
        for (const t of wave) {
          const [orig, now] = [teacher.get(t.layer)!, fresh.get(t.layer)!];
          const rows = { count: now.rows, nOrig: orig.features, nNew: now.features, orig: orig.values, new: now.values };
          const { mseBefore, mseAfter } = refitLayer(byName.get(t.layer)!, out.layers[order.get(t.layer)!]!, t.keptOutputs, rows, opts.ridge);
          fits.push({ layer: t.layer, rows: now.rows, features: now.features, mseBefore, mseAfter });
        }
      }
      return { ir: out, fits, ...(fromCut ? { cut: cut!.tensors } : {}) };
    },
    rowsOf: (layer) => (byName.has(layer) && isRefittable(byName.get(layer)!) ? samplingOf(layer).rows : undefined),
    dispose: () => cache.clear(),
  };
}

function never(layer: string): never {
  throw new Error(`reconstruction rows of "${layer}" were evicted while in use; raise the cache budget`);
}

/** Consecutive waves joined so that there are at most `passes` (each of about the same number of waves). */
export function mergeWaves<T>(list: T[][], passes: number): T[][] {
  if (list.length <= passes) return list;
  const merged: T[][] = [];
  for (let i = 0; i < passes; i++) {
    const [from, to] = [Math.floor((i * list.length) / passes), Math.floor(((i + 1) * list.length) / passes)];
    merged.push(list.slice(from, to).flat());
  }
  return merged;
}

/** Targets in order, cut into waves whose members do not read one another's outputs (directly or not). */
export function waves(ir: ModelIR, targets: ReconstructTarget[]): ReconstructTarget[][] {
  const ancestors = new Map<string, Set<string>>();
  for (const l of ir.layers) {
    const set = new Set<string>();
    for (const i of l.inputs) {
      set.add(i);
      for (const a of ancestors.get(i) ?? []) set.add(a);
    }
    ancestors.set(l.name, set);
  }
  const result: ReconstructTarget[][] = [];
  let current: ReconstructTarget[] = [];
  for (const t of targets) {
    const input = ir.layers.find((l) => l.name === t.layer)!.inputs[0]!;
    const upstream = ancestors.get(input)!;
    if (current.some((c) => c.layer === input || upstream.has(c.layer))) {
      result.push(current);
      current = [];
    }
    current.push(t);
  }
  if (current.length > 0) result.push(current);
  return result;
}

/** Consumers that lose input channels under `removed`, with the output channels each keeps. */
export function reconstructionTargets(analysis: ChannelAnalysis, removed: ReadonlySet<number>): ReconstructTarget[] {
  const layers = new Set<string>();
  for (const b of analysis.bindings) if (b.role === 'in' && b.classes.some((k) => removed.has(k))) layers.add(b.layer);
  return [...layers].map((layer) => {
    const own = analysis.producerClasses.get(layer);
    return { layer, keptOutputs: own ? keptIndices(own, removed) : [] };
  });
}
