/**
 * After replacement, each pair's second layer (the 1×1 pointwise conv, or the second Dense) is refitted by least
 * squares so that, on calibration samples, the pair reproduces the original layer's pre-activation output: the
 * original layer reads the input model's activations, the second layer the replaced model's (its first layer's
 * output). Pairs are refitted in model order on the live replaced model, so each fit also corrects what the
 * replacements upstream changed. Reports each layer's relative output error (MSE / mean square of the original
 * output) before and after its refit.
 *
 * Rows are streamed and sampled as prune's reconstruction reads them (recovery/calibration-rows.ts): a seeded choice
 * of (image, output position) pairs per layer, at most `maxRows` and fewer when the fit's memory share says so, so a
 * 224×224 model's refit holds sampled rows, never whole feature maps of every calibration image. The original layer
 * and the second layer have as many output positions, so the original's sampling serves both.
 */
import type { ActivationEngine } from '../calibrate.ts';
import { inferShapes } from '../graph/shapes.ts';
import type { LayerIR, ModelIR } from '../ir.ts';
import { footprint } from '../memory.ts';
import { layerClass } from '../layers/registry.ts';
import type { LinearRows } from '../layers/types.ts';
import { calibrationBatch, collectRows, featuresOf, RowCache, rowsWithin, sampleRows, type CalibrationSource, type RowSampling, type Rows } from '../recovery/calibration-rows.ts';
import { refitLayer } from '../recovery/refit.ts';
import type { Pair } from './factorize.ts';

export interface RefitOptions {
  /** Calibration images: chosen samples of the training split, gathered a batch at a time. */
  calibration: CalibrationSource;
  /** Largest inference batch of a calibration pass (lowered to fit `memoryBytes`). */
  batchSize: number;
  /** Ridge strength relative to the features' mean square (see solveRidge). */
  ridge: number;
  /** Most rows (sampled image positions) one fit uses. */
  maxRows: number;
  /** Working memory of one fit and its calibration pass, in bytes: lowers the rows and the batch to fit. */
  memoryBytes: number;
  /** Bytes the input model's rows may keep between the candidates of a search. */
  cacheBytes: number;
  seed: number;
  engine?: ActivationEngine;
}

export interface PairFit {
  layer: string;
  rows: number;
  features: number;
  /** Relative error of the pair's pre-activation output on the calibration rows: after the SVD initialisation, after the refit. */
  relErrorBefore: number;
  relErrorAfter: number;
}

/** The input model's rows of each replaceable layer, read once and shared by every candidate a search refits. */
export class TeacherRows {
  private readonly shapes: Map<string, number[]>;
  private readonly samplings = new Map<string, RowSampling>();
  private readonly cache: RowCache;
  private prefetched = false;

  constructor(private readonly original: ModelIR, private readonly layers: readonly string[], private readonly opts: RefitOptions) {
    this.shapes = inferShapes(original);
    this.cache = new RowCache(opts.cacheBytes);
  }

  /** The seeded (image, position) choice for `layer` (a layer of the input model), within the fit's memory share. */
  sampling(layer: string): RowSampling {
    let s = this.samplings.get(layer);
    if (!s) {
      const l = this.layer(layer);
      const rows = rowsWithin(l, this.opts.maxRows, this.opts.memoryBytes / 2);
      this.samplings.set(layer, (s = sampleRows(l, this.shapes.get(l.inputs[0]!)!, this.opts.calibration.order.length, rows, this.opts.seed)));
    }
    return s;
  }

  async rows(layer: string): Promise<Rows> {
    const hit = this.cache.get(layer);
    if (hit) return hit;
    // First use: when every replaceable layer's rows fit the cache, one pass over the calibration images reads them
    // all (the sensitivity pass needs each of them).
    let wanted = [this.sampling(layer)];
    if (!this.prefetched) {
      this.prefetched = true;
      const all = this.layers.map((l) => this.sampling(l));
      if (all.reduce((n, s) => n + 4 * s.rows * featuresOf(this.layer(s.layer)), 0) <= this.opts.cacheBytes) wanted = all;
    }
    const read = await collectRows(this.original, wanted, this.opts.calibration, { batchSize: passBatch(this.original, this.shapes, wanted, this.opts), engine: this.opts.engine });
    for (const [name, rows] of read) this.cache.set(name, rows);
    return read.get(layer)!;
  }

  clear(): void {
    this.cache.clear();
  }

  private layer(name: string): LayerIR {
    const l = this.original.layers.find((x) => x.name === name);
    if (!l) throw new Error(`separable refit: the input model has no layer "${name}"`);
    return l;
  }
}

/** Refits every pair of `replaced` (in place: the second layers' kernel and bias) in model order. */
export async function refitPairs(original: ModelIR, replaced: ModelIR, pairs: ReadonlyMap<string, Pair>, teacher: TeacherRows, opts: RefitOptions): Promise<PairFit[]> {
  const fits: PairFit[] = [];
  let shapes: Map<string, number[]> | undefined;
  for (const layer of replaced.layers) {
    const pair = pairs.get(layer.name);
    if (!pair || pair.second !== layer) continue;
    const orig = original.layers.find((l) => l.name === layer.name)!;
    // The second layer's rows at the original's (image, position) pairs: both have the same output positions.
    const want = teacher.sampling(orig.name);
    shapes ??= inferShapes(replaced);
    const view = layerClass(layer.className)!.linearRows as LinearRows;
    const positions = view.positions(layer.config, shapes.get(pair.first.name)!);
    if (positions !== want.positions) throw new Error(`separable refit of "${layer.name}": ${positions} output positions per image, the original has ${want.positions}`);
    const mine: RowSampling = { ...want, input: pair.first.name, config: layer.config, view };
    const [xOrig, xNew] = [await teacher.rows(orig.name), (await collectRows(replaced, [mine], opts.calibration, { batchSize: passBatch(replaced, shapes, [mine], opts), engine: opts.engine })).get(layer.name)!];
    const rows = { count: xNew.rows, nOrig: xOrig.features, nNew: xNew.features, orig: xOrig.values, new: xNew.values };
    const outputs = Array.from({ length: layer.weights.find((w) => w.name === 'kernel')!.shape.at(-1)! }, (_, i) => i);
    const fit = refitLayer(orig, layer, outputs, rows, opts.ridge);
    const scale = fit.targetMeanSquare > 0 ? fit.targetMeanSquare : 1;
    fits.push({ layer: layer.name, rows: rows.count, features: rows.nNew, relErrorBefore: fit.mseBefore / scale, relErrorAfter: fit.mseAfter / scale });
  }
  return fits;
}

/** A calibration pass's batch within half the fit's memory. */
function passBatch(ir: ModelIR, shapes: Map<string, number[]>, wanted: RowSampling[], opts: RefitOptions): number {
  return calibrationBatch(footprint(ir), shapes, wanted, opts.batchSize, opts.memoryBytes / 2);
}
