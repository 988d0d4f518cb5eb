/**
 * Least-squares refit of one layer so that it reproduces another layer's pre-activation output on calibration data
 * — the recovery step pruning (a consumer that lost input channels) and separable replacement (the pointwise or
 * second low-rank layer standing in for the original) share. The original layer reads the original network's
 * activations, the refitted one the changed network's; both are linear maps per output position (their classes'
 * `linearRows` views), evaluated at the same sampled output positions, and the refitted kernel and bias are the ridge
 * solution for the residual (pipeline/recovery/least-squares.ts). Forward passes only.
 */
import * as tf from '@tensorflow/tfjs';
import { openActivationReader, type ActivationEngine } from '../calibrate.ts';
import { batches } from '../data/splits.ts';
import type { LabelledSet } from '../data/types.ts';
import type { LayerIR, ModelIR, WeightIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import type { LinearRows } from '../layers/types.ts';
import { createRng } from '../random.ts';
import { withValues } from '../weight-storage.ts';
import { solveRidge } from './least-squares.ts';

export interface Activations {
  values: Float32Array;
  /** Per-sample shape. */
  shape: number[];
  count: number;
}

export interface ActivationOptions {
  calibration: LabelledSet;
  batchSize: number;
  /** Engine that reads the calibration activations (default 'auto': onnxruntime when the model exports). */
  engine?: ActivationEngine;
}

/** What a refit reads and how it solves: calibration activations, the ridge, the rows a convolution fit samples. */
export interface RefitSettings extends ActivationOptions {
  /** Ridge strength relative to the features' mean square (see solveRidge). */
  ridge: number;
  /** Most rows (samples × positions) one sampled (convolution) fit uses. */
  maxConvRows: number;
  seed: number;
}

/** `layerName`'s output on every calibration sample, read batch by batch on the fastest engine. */
export async function activations(ir: ModelIR, layerName: string, opts: ActivationOptions): Promise<Activations> {
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

/** Whether `layer` is a linear map per position that a refit can solve for (a `linearRows` view and a kernel). */
export function isRefittable(layer: LayerIR): boolean {
  return layerClass(layer.className)?.linearRows !== undefined && layer.weights.some((w) => w.name === 'kernel');
}

export interface Rows {
  count: number;
  nOrig: number;
  nNew: number;
  orig: Float32Array;
  new: Float32Array;
}

/**
 * The input rows of the original layer (from the original network's activations) and of the refitted one (from
 * the changed network's) at the same output positions: every position (Dense), or one seeded sample of at most
 * `maxSampledRows` (convolutions, whose rows are im2col patches). Both layers must have as many output positions.
 */
export function pairedRows(orig: LayerIR, fresh: LayerIR, xOrig: Activations, xNew: Activations, maxSampledRows: number, seed: number): Rows {
  const viewOrig = layerClass(orig.className)!.linearRows as LinearRows;
  const viewNew = layerClass(fresh.className)!.linearRows as LinearRows;
  const total = xNew.count * viewNew.positions(fresh.config, xNew.shape);
  const totalOrig = xOrig.count * viewOrig.positions(orig.config, xOrig.shape);
  if (total !== totalOrig) throw new Error(`refit of "${fresh.name}": ${total} output positions, the original has ${totalOrig}`);
  let positions: number[] | undefined;
  let count = total;
  if (viewOrig.sampled || viewNew.sampled) {
    count = Math.min(total, maxSampledRows);
    const rng = createRng(seed);
    positions = count === total ? Array.from({ length: total }, (_, i) => i) : Array.from({ length: count }, () => rng.int(total));
  }
  const rowsOrig = viewOrig.rows(orig.config, xOrig.values, xOrig.shape, positions);
  const rowsNew = viewNew.rows(fresh.config, xNew.values, xNew.shape, positions);
  return { count, nOrig: rowsOrig.length / count, nNew: rowsNew.length / count, orig: rowsOrig, new: rowsNew };
}

export interface RefitResult {
  /** Mean squared error of the pre-activation output on the rows, before and after the fit. */
  mseBefore: number;
  mseAfter: number;
  /** Mean square of the target (the original pre-activation output): relative error = mse / this. */
  targetMeanSquare: number;
}

/**
 * Fits `fresh`'s kernel and bias (replacing its weight objects, each re-encoded in its storage) so that X_new·W' + b' ≈ X_orig·W_orig + b_orig on the original's
 * output channels `keptOutputs` (the refitted layer's outputs, in order). The fit solves for the change from the
 * current weights, so the ridge pulls towards them.
 */
export function refitLayer(orig: LayerIR, fresh: LayerIR, keptOutputs: number[], rows: Rows, ridge: number): RefitResult {
  const kOrig = orig.weights.find((w) => w.name === 'kernel')!;
  const kNew = fresh.weights.find((w) => w.name === 'kernel')!;
  const bOrig = orig.weights.find((w) => w.name === 'bias');
  const bNew = fresh.weights.find((w) => w.name === 'bias');
  const m = keptOutputs.length;
  const fOrig = kOrig.shape[kOrig.shape.length - 1]!;
  const { count, nOrig, nNew } = rows;
  // tidy returns tensors only: given typed arrays, its cleanup walks every element (seconds per fit on the example).
  const parts = tf.tidy(() => {
    const keep = tf.tensor1d(Int32Array.from(keptOutputs), 'int32');
    let target = tf.matMul(tf.tensor2d(rows.orig, [count, nOrig]), tf.gather(tf.tensor2d(kOrig.values, [nOrig, fOrig]), keep, 1));
    if (bOrig) target = tf.add(target, tf.gather(tf.tensor1d(bOrig.values), keep));
    const xNew = tf.tensor2d(rows.new, [count, nNew]);
    let current = tf.matMul(xNew, tf.tensor2d(kNew.values, [nNew, m]));
    if (bNew) current = tf.add(current, tf.tensor1d(bNew.values));
    const residual = tf.sub(target, current);
    // With a bias the fit is centred (the bias absorbs the mean); without one it is not.
    const muX = bNew ? tf.mean(xNew, 0, true) : tf.zerosLike(tf.mean(xNew, 0, true));
    const muR = bNew ? tf.mean(residual, 0, true) : tf.zerosLike(tf.mean(residual, 0, true));
    return { xc: tf.sub(xNew, muX), rc: tf.sub(residual, muR), muX, muR, mseBefore: tf.mean(tf.square(residual)), targetMeanSquare: tf.mean(tf.square(target)) };
  });
  const result = {
    xc: parts.xc.dataSync() as Float32Array,
    rc: parts.rc.dataSync() as Float32Array,
    muX: parts.muX.dataSync() as Float32Array,
    muR: parts.muR.dataSync() as Float32Array,
    mseBefore: parts.mseBefore.dataSync()[0]!,
    targetMeanSquare: parts.targetMeanSquare.dataSync()[0]!,
  };
  tf.dispose(Object.values(parts));
  const { delta } = solveRidge(result.xc, result.rc, count, nNew, m, ridge);
  // The refit values are re-encoded in each weight's storage (a uint8 kernel stays uint8): what ships is measured.
  const replace = (w: WeightIR, values: Float32Array) => (fresh.weights[fresh.weights.indexOf(w)] = withValues(w, values));
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
  return { mseBefore: result.mseBefore, mseAfter, targetMeanSquare: result.targetMeanSquare };
}
