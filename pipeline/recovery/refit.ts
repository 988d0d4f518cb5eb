/**
 * Least-squares refit of one layer so that it reproduces another layer's pre-activation output on calibration data
 * — the recovery step pruning (a consumer that lost input channels) and separable replacement (the pointwise or
 * second low-rank layer standing in for the original) share. The original layer reads the original network's
 * activations, the refitted one the changed network's; both are linear maps per output position (their classes'
 * `linearRows` views), evaluated at the same sampled output positions, and the refitted kernel and bias are the ridge
 * solution for the residual (pipeline/recovery/least-squares.ts). Forward passes only.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerIR, WeightIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import { withValues } from '../weight-storage.ts';
import { solveRidge } from './least-squares.ts';

/** Whether `layer` is a linear map per position that a refit can solve for (a `linearRows` view and a kernel). */
export function isRefittable(layer: LayerIR): boolean {
  return layerClass(layer.className)?.linearRows !== undefined && layer.weights.some((w) => w.name === 'kernel');
}

/** The two layers' input rows at the same (image, position) pairs (recovery/calibration-rows.ts samples them). */
export interface PairedRows {
  count: number;
  nOrig: number;
  nNew: number;
  orig: Float32Array;
  new: Float32Array;
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
export function refitLayer(orig: LayerIR, fresh: LayerIR, keptOutputs: number[], rows: PairedRows, ridge: number): RefitResult {
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
