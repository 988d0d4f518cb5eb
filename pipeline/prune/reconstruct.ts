/**
 * Weight reconstruction after channel removal (AIMET's channel pruning): each consumer layer that lost input
 * channels is refitted by ridge least squares so that, on calibration samples, its pre-activation output from
 * the *pruned* network's activations matches the *original* network's. Consumers are refitted in topological
 * order on a live pruned model, so each fit sees the corrections made upstream. Forward passes only.
 *
 * A consumer is refitted when its class declares a `linearRows` view (pipeline/layers/): Dense uses every
 * calibration row (all leading positions); convolutions use a seeded sample of output positions (im2col patches).
 * Other consumers keep their sliced weights.
 */
import * as tf from '@tensorflow/tfjs';
import { openActivationReader, type ActivationEngine } from '../calibrate.ts';
import type { LabelledSet } from '../data/types.ts';
import { batches } from '../data/splits.ts';
import { cloneIR, type LayerIR, type ModelIR, type WeightIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import type { LinearRows } from '../layers/types.ts';
import { withValues } from '../weight-storage.ts';
import { createRng } from '../random.ts';
import { solveRidge } from './least-squares.ts';
import { keptIndices } from './remove-channels.ts';
import type { ChannelAnalysis } from '../graph/channel-groups.ts';

export interface ReconstructOptions {
  calibration: LabelledSet;
  batchSize: number;
  /** Ridge strength relative to the features' mean square (see solveRidge). */
  ridge: number;
  /** Most rows (samples × positions) one sampled (convolution) fit uses. */
  maxConvRows: number;
  seed: number;
  /** Engine that reads the calibration activations (default 'auto': onnxruntime when the model exports). */
  engine?: ActivationEngine;
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
  /** `pruned` with its consumers refitted (a new IR), and how each fit went. */
  run(pruned: ModelIR, targets: ReconstructTarget[]): Promise<{ ir: ModelIR; fits: LayerFit[] }>;
  dispose(): void;
}

/** Keeps the original model and its calibration activations, which every candidate of a search shares. */
export async function createReconstructor(original: ModelIR, opts: ReconstructOptions): Promise<Reconstructor> {
  const cache = new Map<string, Promise<Activations>>();
  const teacherActivations = (layer: string) => {
    let a = cache.get(layer);
    if (!a) cache.set(layer, (a = activations(original, layer, opts)));
    return a;
  };
  return {
    async run(pruned, targets) {
      const out = cloneIR(pruned);
      const order = new Map(out.layers.map((l, i) => [l.name, i]));
      const todo = targets.filter((t) => isReconstructable(out.layers[order.get(t.layer)!]!)).sort((a, b) => order.get(a.layer)! - order.get(b.layer)!);
      if (todo.length === 0) return { ir: out, fits: [] };
      const fits: LayerFit[] = [];
      for (const t of todo) {
        const layerOrig = original.layers.find((l) => l.name === t.layer)!;
        const layerNew = out.layers[order.get(t.layer)!]!;
        const xOrig = await teacherActivations(layerOrig.inputs[0]!);
        // Read from `out` as it is now: refit() updates its weights in place, so upstream fits are seen.
        const xNew = await activations(out, layerNew.inputs[0]!, opts);
        const rows = linearRows(layerNew, xOrig, xNew, opts);
        const fit = refit(layerOrig, layerNew, t, rows, opts.ridge);
        fits.push({ layer: t.layer, rows: rows.count, features: rows.nNew, ...fit });
      }
      return { ir: out, fits };
    },
    dispose: () => cache.clear(),
  };
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

function isReconstructable(layer: LayerIR): boolean {
  return layerClass(layer.className)?.linearRows !== undefined && layer.weights.some((w) => w.name === 'kernel');
}

interface Activations {
  values: Float32Array;
  /** Per-sample shape. */
  shape: number[];
  count: number;
}

/** `layerName`'s output on every calibration sample, read batch by batch on the fastest engine. */
async function activations(ir: ModelIR, layerName: string, opts: ReconstructOptions): Promise<Activations> {
  const reader = await openActivationReader(ir, [layerName], { engine: opts.engine });
  try {
    const shape = reader.sampleShapes[layerName]!;
    const per = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(opts.calibration.count * per);
    for (const batch of batches(opts.calibration, opts.batchSize)) {
      const y = await reader.read(batch.x, batch.size, opts.calibration.sampleShape);
      values.set(y[layerName]!, batch.start * per);
    }
    return { values, shape, count: opts.calibration.count };
  } finally {
    reader.dispose();
  }
}

interface Rows {
  count: number;
  nOrig: number;
  nNew: number;
  orig: Float32Array;
  new: Float32Array;
}

/**
 * The layer's input rows from both networks' activations: every position (Dense), or the same seeded sample of
 * output positions of both (convolutions, whose rows are im2col patches).
 */
function linearRows(ln: LayerIR, xOrig: Activations, xNew: Activations, opts: ReconstructOptions): Rows {
  const view = layerClass(ln.className)!.linearRows as LinearRows;
  let positions: number[] | undefined;
  let count = xNew.count * view.positions(ln.config, xNew.shape);
  if (view.sampled) {
    const total = count;
    count = Math.min(total, opts.maxConvRows);
    const rng = createRng(opts.seed);
    positions = count === total ? Array.from({ length: total }, (_, i) => i) : Array.from({ length: count }, () => rng.int(total));
  }
  const orig = view.rows(ln.config, xOrig.values, xOrig.shape, positions);
  const fresh = view.rows(ln.config, xNew.values, xNew.shape, positions);
  return { count, nOrig: orig.length / count, nNew: fresh.length / count, orig, new: fresh };
}

/** Fits layerNew's kernel/bias (in place) so X_new·W' + b' ≈ X_orig·W_orig + b_orig on the kept outputs. */
function refit(lo: LayerIR, ln: LayerIR, t: ReconstructTarget, rows: Rows, ridge: number): { mseBefore: number; mseAfter: number } {
  const kOrig = lo.weights.find((w) => w.name === 'kernel')!;
  const kNew = ln.weights.find((w) => w.name === 'kernel')!;
  const bOrig = lo.weights.find((w) => w.name === 'bias');
  const bNew = ln.weights.find((w) => w.name === 'bias');
  const m = t.keptOutputs.length;
  const fOrig = kOrig.shape[kOrig.shape.length - 1]!;
  const { count, nOrig, nNew } = rows;
  // tidy returns tensors only: given typed arrays, its cleanup walks every element (seconds per fit on the example).
  const parts = tf.tidy(() => {
    const keep = tf.tensor1d(Int32Array.from(t.keptOutputs), 'int32');
    let target = tf.matMul(tf.tensor2d(rows.orig, [count, nOrig]), tf.gather(tf.tensor2d(kOrig.values, [nOrig, fOrig]), keep, 1));
    if (bOrig) target = tf.add(target, tf.gather(tf.tensor1d(bOrig.values), keep));
    const xNew = tf.tensor2d(rows.new, [count, nNew]);
    let current = tf.matMul(xNew, tf.tensor2d(kNew.values, [nNew, m]));
    if (bNew) current = tf.add(current, tf.tensor1d(bNew.values));
    const residual = tf.sub(target, current);
    // With a bias the fit is centred (the bias absorbs the mean); without one it is not.
    const muX = bNew ? tf.mean(xNew, 0, true) : tf.zerosLike(tf.mean(xNew, 0, true));
    const muR = bNew ? tf.mean(residual, 0, true) : tf.zerosLike(tf.mean(residual, 0, true));
    return { xc: tf.sub(xNew, muX), rc: tf.sub(residual, muR), muX, muR, mseBefore: tf.mean(tf.square(residual)) };
  });
  const result = {
    xc: parts.xc.dataSync() as Float32Array,
    rc: parts.rc.dataSync() as Float32Array,
    muX: parts.muX.dataSync() as Float32Array,
    muR: parts.muR.dataSync() as Float32Array,
    mseBefore: parts.mseBefore.dataSync()[0]!,
  };
  tf.dispose(Object.values(parts));
  const { delta } = solveRidge(result.xc, result.rc, count, nNew, m, ridge);
  // The refit values are re-encoded in each weight's storage (a uint8 kernel stays uint8): what ships is measured.
  const replace = (w: WeightIR, values: Float32Array) => (ln.weights[ln.weights.indexOf(w)] = withValues(w, values));
  replace(kNew, Float32Array.from(kNew.values, (v, i) => v + delta[i]!));
  if (bNew) {
    // b' = b + μR − μX·Δ
    const shift = new Float64Array(m);
    for (let i = 0; i < nNew; i++) for (let j = 0; j < m; j++) shift[j] += result.muX[i]! * delta[i * m + j]!;
    replace(bNew, Float32Array.from(bNew.values, (v, j) => v + result.muR[j]! - shift[j]!));
  }
  const mseAfter = tf.tidy(() => {
    const xc = tf.tensor2d(result.xc, [count, nNew]);
    const rc = tf.tensor2d(result.rc, [count, m]);
    return tf.mean(tf.square(tf.sub(rc, tf.matMul(xc, tf.tensor2d(delta, [nNew, m]))))).dataSync()[0]!;
  });
  return { mseBefore: result.mseBefore, mseAfter };
}
