/**
 * The fine-tuning recipe both engines share, so either can stand in for the other: option checks, one seeded
 * permutation per epoch, limits checked before each batch (the last batch cut to land exactly on maxSamples),
 * cosine learning-rate decay to zero over the planned samples (constant with only a time limit), and progress
 * with the sample-weighted mean loss since the last report. The engine supplies one optimisation step.
 */
import type { Batch } from '../data/splits.ts';
import { batches } from '../data/splits.ts';
import { createRng, permutation } from '../random.ts';
import { reportStep } from '../progress/events.ts';
import type { FineTuneOptions } from './types.ts';

/** Progress is reported about this often (and once at the end). */
const PROGRESS_EVERY_SECONDS = 2;

const FINAL_LOSS_SAMPLES = 1024;

/** One optimisation step on `batch` at `learningRate`; returns the batch's mean loss. */
export type TrainStep = (batch: Batch, learningRate: number, samplesSoFar: number) => Promise<number>;

export interface RecipeResult {
  samples: number;
  seconds: number;
  /**
   * Mean loss over the last FINAL_LOSS_SAMPLES samples trained on: a count, not a time window, so two runs of the
   * same inputs report the same value (progress reports, which are timed, do not touch it).
   */
  finalLoss: number;
}

/** Runs `step` over the training data as the options say; `started` is when the engine began (setup included). */
export async function runRecipe(opts: FineTuneOptions, step: TrainStep, started = performance.now()): Promise<RecipeResult> {
  const seconds = () => (performance.now() - started) / 1000;
  const { train } = opts;
  const rng = createRng(opts.seed);
  const maxEpochs = opts.epochs ?? Number.POSITIVE_INFINITY;
  const maxSamples = opts.maxSamples ?? Number.POSITIVE_INFINITY;
  const maxSeconds = opts.maxSeconds ?? Number.POSITIVE_INFINITY;
  const planned = Math.min(maxEpochs * train.count, maxSamples);
  const rateAt = (done: number) =>
    Number.isFinite(planned) ? opts.learningRate * 0.5 * (1 + Math.cos((Math.PI * Math.min(done, planned)) / planned)) : opts.learningRate;
  let samples = 0;
  let lossSum = 0;
  let lossCount = 0;
  let lastReport = 0;
  const tail: Array<[loss: number, size: number]> = [];
  let tailSize = 0;
  outer: for (let epoch = 0; epoch < maxEpochs; epoch++) {
    for (const full of batches(train, opts.batchSize, permutation(train.count, rng))) {
      const left = maxSamples - samples;
      if (left <= 0 || seconds() >= maxSeconds) break outer;
      const batch = left >= full.size ? full : { ...full, size: left, x: full.x.subarray(0, left * (full.x.length / full.size)), y: full.y.subarray(0, left) };
      const loss = await step(batch, rateAt(samples), samples);
      samples += batch.size;
      reportStep({ label: 'fine-tune', done: samples, ...(Number.isFinite(planned) ? { total: planned } : {}), unit: 'samples' });
      lossSum += loss * batch.size;
      lossCount += batch.size;
      tail.push([loss, batch.size]);
      tailSize += batch.size;
      while (tail.length > 1 && tailSize - tail[0]![1] >= FINAL_LOSS_SAMPLES) tailSize -= tail.shift()![1];
      if (opts.onProgress && seconds() - lastReport >= PROGRESS_EVERY_SECONDS) {
        lastReport = seconds();
        opts.onProgress({ samples, loss: lossSum / lossCount, seconds: lastReport });
        [lossSum, lossCount] = [0, 0];
      }
    }
  }
  const finalLoss = tailSize ? tail.reduce((sum, [loss, size]) => sum + loss * size, 0) / tailSize : Number.NaN;
  return { samples, seconds: seconds(), finalLoss };
}

/** Bugs in the caller, not user errors: stage options are validated before they get here. */
export function checkFineTuneOptions(opts: FineTuneOptions): void {
  const limits = [opts.epochs, opts.maxSamples, opts.maxSeconds].filter((v) => v !== undefined);
  if (limits.length === 0) throw new Error('fine-tuning needs at least one of epochs, maxSamples, maxSeconds');
  if (limits.some((v) => !(v! > 0))) throw new Error(`fine-tuning limits must be positive: ${JSON.stringify({ epochs: opts.epochs, maxSamples: opts.maxSamples, maxSeconds: opts.maxSeconds })}`);
  if (!(opts.temperature > 0) || !(opts.alpha >= 0 && opts.alpha <= 1)) throw new Error('fine-tuning needs temperature > 0 and alpha in [0, 1]');
  if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) throw new Error(`fine-tuning needs a positive integer batchSize, got ${opts.batchSize}`);
  if (!(opts.learningRate > 0)) throw new Error(`fine-tuning needs a positive learningRate, got ${opts.learningRate}`);
  if (opts.train.count === 0) throw new Error('fine-tuning needs training samples');
}
