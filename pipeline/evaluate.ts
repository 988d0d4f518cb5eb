/**
 * Measures a model IR on data: accuracy and loss batch by batch (never the whole split as one tensor),
 * single-sample latency, parameters and MACs. Inference runs on a Predictor so a faster engine (onnxruntime)
 * can stand in for tfjs without the callers changing.
 */
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from './data/types.ts';
import { batches, sampleSize } from './data/splits.ts';
import { countMacs } from './graph/macs.ts';
import { buildTfjsModel } from './io/tfjs-model.ts';
import { countParams, type ModelIR } from './ir.ts';
import { isSlimnetError } from './errors.ts';
import { onnxPredictor } from './onnx/ort.ts';
import { FidelityMeter } from './fidelity.ts';
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

const EPS = 1e-7;

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
  if (set.targets) {
    const meter = new FidelityMeter();
    for (const batch of batches(set, batchSize)) meter.add(await predictor.predict(batch.x, batch.size, set.sampleShape), batch.targets!);
    const relativeMse = meter.relativeMse();
    return { accuracy: 1 - relativeMse, loss: relativeMse, count: set.count, relativeMse, psnr: meter.psnr() };
  }
  let correct = 0;
  let lossSum = 0;
  let seen = 0;
  let firstNonFinite: number | undefined;
  for (const batch of batches(set, batchSize)) {
    const out = await predictor.predict(batch.x, batch.size, set.sampleShape);
    const classes = out.length / batch.size;
    for (let i = 0; i < batch.size; i++) {
      const raw = out.subarray(i * classes, (i + 1) * classes);
      if (firstNonFinite === undefined && !raw.every(Number.isFinite)) firstNonFinite = seen + i;
      const row = toProbabilities(raw);
      let best = 0;
      for (let c = 1; c < classes; c++) if (row[c]! > row[best]!) best = c;
      const label = batch.y[i]!;
      if (best === label) correct++;
      lossSum -= Math.log(Math.max(row[label] ?? 0, EPS));
    }
    seen += batch.size;
  }
  return { accuracy: set.count ? correct / set.count : 0, loss: set.count ? lossSum / set.count : 0, count: set.count, ...(firstNonFinite === undefined ? {} : { firstNonFinite }) };
}

function toProbabilities(row: Float32Array): Float32Array {
  let sum = 0;
  let negative = false;
  for (const v of row) {
    sum += v;
    if (v < 0) negative = true;
  }
  if (!negative && Math.abs(sum - 1) < 1e-3) return row;
  const max = Math.max(...row);
  const exp = row.map((v) => Math.exp(v - max));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / total);
}

/** Mean milliseconds of batch-1 inference over `samples` samples, after a few warm-up calls. */
export async function measureLatency(predictor: Predictor, set: LabelledSet, samples: number): Promise<number> {
  const size = sampleSize(set);
  const n = Math.min(samples, set.count);
  if (n === 0) return 0;
  const sample = (i: number) => set.x.subarray(i * size, (i + 1) * size);
  for (let i = 0; i < Math.min(5, n); i++) await predictor.predict(sample(i), 1, set.sampleShape);
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await predictor.predict(sample(i), 1, set.sampleShape);
  return Number(process.hrtime.bigint() - start) / 1e6 / n;
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
  latencySamples: number;
  engine: EvaluationEngine;
}

/** Everything in Metrics except `bytes`, which depends on how the stage wrote its model. */
export async function evaluateModel(
  ir: ModelIR,
  splits: { validation: LabelledSet; test: LabelledSet },
  opts: EvaluateOptions,
): Promise<Omit<Metrics, 'bytes'> & { engine: string; nonFinite?: { split: 'validation' | 'test'; sample: number } }> {
  const predictor = await createPredictor(ir, opts.engine);
  try {
    const val = await measureQuality(predictor, splits.validation, opts.batchSize);
    const test = await measureQuality(predictor, splits.test, opts.batchSize);
    const latencyMs = await measureLatency(predictor, splits.test, opts.latencySamples);
    return {
      valAccuracy: val.accuracy,
      testAccuracy: test.accuracy,
      loss: val.loss,
      ...(val.relativeMse !== undefined ? { fidelity: { valRelativeMse: val.relativeMse, testRelativeMse: test.relativeMse!, valPsnr: val.psnr ?? null, testPsnr: test.psnr ?? null } } : {}),
      params: countParams(ir),
      macs: countMacs(ir).total,
      latencyMs,
      engine: predictor.engine,
      ...(val.firstNonFinite !== undefined ? { nonFinite: { split: 'validation' as const, sample: val.firstNonFinite } }
        : test.firstNonFinite !== undefined ? { nonFinite: { split: 'test' as const, sample: test.firstNonFinite } } : {}),
    };
  } finally {
    predictor.dispose();
  }
}
