/**
 * Measures a model IR on data: accuracy and loss batch by batch (never the whole split as one tensor),
 * single-sample latency, parameters and MACs. Inference runs on a Predictor so a faster engine (onnxruntime)
 * can stand in for tfjs without the callers changing.
 */
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from './data/types.ts';
import { batches } from './data/splits.ts';
import { countMacs } from './graph/macs.ts';
import { buildTfjsModel } from './io/tfjs-model.ts';
import { countParams, type ModelIR } from './ir.ts';
import { isSlimnetError } from './errors.ts';
import { onnxPredictor } from './onnx/ort.ts';
import { qualityMeter } from './quality-meter.ts';
import { concatTyped } from './typed-arrays.ts';
import type { Accuracy, Metrics } from './metrics.ts';

/** Runs a model on flat NHWC batches; returns the first output's rows, flat. */
export interface Predictor {
  readonly engine: string;
  predict(x: Float32Array, count: number, sampleShape: number[]): Promise<Float32Array>;
  dispose(): void;
}

export async function tfjsPredictor(ir: ModelIR): Promise<Predictor> {
  return layersModelPredictor(await buildTfjsModel(ir));
}

/** Takes ownership of `model`: dispose() disposes it. */
export function layersModelPredictor(model: tf.LayersModel): Predictor {
  return {
    engine: `tfjs-${tf.getBackend()}`,
    async predict(x, count, sampleShape) {
      const out = tf.tidy(() => {
        const input = tf.tensor(x, [count, ...sampleShape], 'float32');
        const y = model.predict(input);
        return Array.isArray(y) ? y[0]! : y;
      });
      const values = (await out.data()) as Float32Array;
      out.dispose();
      return values;
    },
    dispose: () => model.dispose(),
  };
}

/** All of a set's outputs, batch by batch, in sample order. */
export async function predictSet(predictor: Predictor, set: LabelledSet, batchSize: number): Promise<Float32Array> {
  const parts: Float32Array[] = [];
  for (const batch of batches(set, batchSize)) parts.push(await predictor.predict(batch.x, batch.size, set.sampleShape));
  return concatTyped(parts, Float32Array);
}

/**
 * The run's quality on a set — the one number gates and searches compare (pipeline/quality.ts): top-1 accuracy
 * against the set's labels (the data's, or the teacher's top-1 class: then it is top-1 agreement) with mean
 * cross-entropy as the loss; or, for a set with teacher outputs (`targets`, task 'regress'), 1 − relative MSE with
 * relative MSE as the loss and PSNR beside it. Outputs that are not probabilities (logits) are softmaxed first.
 */
export async function measureQuality(predictor: Predictor, set: LabelledSet, batchSize: number): Promise<Accuracy> {
  const meter = qualityMeter(set);
  for (const batch of batches(set, batchSize)) meter.add(await predictor.predict(batch.x, batch.size, set.sampleShape), batch);
  return meter.result();
}

export type EvaluationEngine = 'auto' | 'ort' | 'tfjs';

/**
 * onnxruntime-node on one thread (the in-memory ONNX export) measured ~4x faster than tfjs-wasm on the example
 * (see README, Engines), so 'auto' uses it whenever the model exports, and tfjs otherwise. One thread because
 * on 2 contended cores more threads measured slower.
 */
export async function createPredictor(ir: ModelIR, engine: EvaluationEngine): Promise<Predictor> {
  if (engine === 'tfjs') return tfjsPredictor(ir);
  try {
    return await onnxPredictor(ir, { threads: 1 });
  } catch (e) {
    if (engine === 'auto' && isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED') return tfjsPredictor(ir);
    throw e;
  }
}

export interface EvaluateOptions {
  batchSize: number;
  engine: EvaluationEngine;
  /**
   * @deprecated Ignored since report schema 2: evaluateModel no longer times anything (latency is timed interleaved
   * against the baseline, pipeline/measure/model-latency.ts). Accepted so callers written for schema 1 still compile.
   */
  latencySamples?: number;
}

/**
 * Everything in Metrics except `bytes`, which depends on how the stage wrote its model. Latency is not a metric
 * here: it is timed against the baseline, interleaved (pipeline/measure/model-latency.ts), and kept apart from
 * these deterministic numbers.
 */
export async function evaluateModel(
  ir: ModelIR,
  splits: { validation: LabelledSet; test: LabelledSet },
  opts: EvaluateOptions,
): Promise<Omit<Metrics, 'bytes'> & { engine: string; nonFinite?: { split: 'validation' | 'test'; sample: number } }> {
  const predictor = await createPredictor(ir, opts.engine);
  try {
    const val = await measureQuality(predictor, splits.validation, opts.batchSize);
    const test = await measureQuality(predictor, splits.test, opts.batchSize);
    return {
      valAccuracy: val.accuracy,
      testAccuracy: test.accuracy,
      loss: val.loss,
      ...(val.relativeMse !== undefined ? { fidelity: { valRelativeMse: val.relativeMse, testRelativeMse: test.relativeMse!, valPsnr: val.psnr ?? null, testPsnr: test.psnr ?? null } } : {}),
      params: countParams(ir),
      macs: countMacs(ir).total,
      engine: predictor.engine,
      ...(val.firstNonFinite !== undefined ? { nonFinite: { split: 'validation' as const, sample: val.firstNonFinite } }
        : test.firstNonFinite !== undefined ? { nonFinite: { split: 'test' as const, sample: test.firstNonFinite } } : {}),
    };
  } finally {
    predictor.dispose();
  }
}
