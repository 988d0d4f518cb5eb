/**
 * Distillation fine-tuning as a recovery step, shared by the stages that change a trained model (prune, separable):
 * the options users write (one zod schema, so both stages document and validate them the same way), and one run
 * from the stage's input model as teacher, with progress lines. Whether to keep the result is the caller's call
 * (`fineTuneHelped`), on validation only.
 */
import { z } from 'zod';
import type { LabelledSet } from '../data/types.ts';
import { createPredictor, measureQuality } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';
import type { Accuracy } from '../metrics.ts';
import type { FineTuneOptions, FineTuneResult, FineTuner } from '../train/types.ts';

export const fineTuneOptions = z.strictObject({
  epochs: z.number().positive().default(4).describe('passes over the training split; training stops at the first limit reached'),
  samples: z.number().int().positive().optional().describe('stop after this many training samples'),
  // No default time limit: a wall-clock cut would make the artifact depend on the machine's speed.
  seconds: z.number().positive().optional().describe('stop after this many seconds of training (makes the result machine-dependent)'),
  temperature: z.number().positive().default(2).describe('softmax temperature of the distillation targets'),
  alpha: z.number().min(0).max(1).default(0.5).describe('weight of the distillation loss; 1 − alpha goes to the hard labels'),
  learningRate: z.number().positive().default(5e-4).describe('optimizer learning rate'),
  batchSize: z.number().int().positive().default(64).describe('training batch size (lowered to fit memoryBudgetMB)'),
  optimizer: z.enum(['adam', 'sgd-momentum']).default('adam').describe('optimizer'),
  batchNorm: z.enum(['auto', 'batch', 'moving']).default('auto')
    .describe("BatchNormalization while fine-tuning: 'batch' statistics, the running ('moving') ones frozen, or 'auto': frozen when the batch (after memoryBudgetMB) is below 16"),
});

/** `fineTune: false | {...}` as stages declare it: distillation from the stage's input model, on by default. */
export const fineTuneOption = z.union([z.literal(false), fineTuneOptions]).prefault({}).describe('distillation fine-tuning from the input model, or false');

export type FineTuneSettings = Pick<FineTuneOptions, 'temperature' | 'alpha' | 'epochs' | 'maxSamples' | 'maxSeconds' | 'batchSize' | 'learningRate' | 'optimizer' | 'batchNorm'>;

/** Below this fine-tuning batch, BatchNormalization trains with its running statistics frozen (batchNorm 'auto'). */
export const SMALL_BATCH = 16;

/**
 * The options as a fine-tuner takes them; `maxBatch` is the largest batch the memory budget allows. A batch the
 * budget lowered trains at a learning rate scaled to it — the square root of the batch ratio for Adam (Malladi et
 * al., "On the SDEs and Scaling Rules for Adaptive Gradient Algorithms", NeurIPS 2022), the ratio itself for SGD
 * (Goyal et al. 2017) — as the rate was chosen for the batch asked for: a trained MobileNetV2 at 224×224 (batch 64
 * lowered to 7) fell from 88.8% to 76.6% validation accuracy in a 128-sample fine-tune at the unscaled rate.
 */
export function fineTuneSettings(ft: z.output<typeof fineTuneOption>, maxBatch = Number.POSITIVE_INFINITY): FineTuneSettings | false {
  if (!ft) return false;
  const { samples, seconds, batchSize, batchNorm, learningRate, ...rest } = ft;
  const batch = Math.max(1, Math.min(batchSize, maxBatch));
  // Batch statistics of a few samples are too noisy to normalise with (Wu & He 2018: BN's error climbs below ~16
  // per batch); a memory-lowered batch fine-tunes with the running statistics frozen instead.
  const bn = batchNorm === 'auto' ? (batch < SMALL_BATCH ? 'moving' : 'batch') : batchNorm;
  const ratio = batch / batchSize;
  const rate = learningRate * (rest.optimizer === 'adam' ? Math.sqrt(ratio) : ratio);
  return { ...rest, learningRate: rate, batchSize: batch, maxSamples: samples, maxSeconds: seconds, batchNorm: bn };
}

/** Samples a fine-tune will run: its epochs over `trainCount` samples or its sample limit, whichever is less. */
export function plannedSamples(ft: Pick<FineTuneOptions, 'epochs' | 'maxSamples'>, trainCount: number): number {
  return Math.min((ft.epochs ?? Number.POSITIVE_INFINITY) * trainCount, ft.maxSamples ?? Number.POSITIVE_INFINITY);
}

/** Progress lines of a fine-tune: samples done of planned, loss, time, and an estimate of the time left. */
export function fineTuneProgress(log: (m: string) => void, planned: number, label = 'fine-tune') {
  return (p: { samples: number; loss: number; seconds: number }) => {
    const left = Number.isFinite(planned) && p.samples > 0 ? (p.seconds * (planned - p.samples)) / p.samples : Number.NaN;
    const of = Number.isFinite(planned) ? `/${planned}` : '';
    log(`${label}: ${p.samples}${of} samples, loss ${p.loss.toFixed(4)}, ${p.seconds.toFixed(1)} s${left > 0 ? `, ~${left.toFixed(0)} s left` : ''}`);
  };
}

export interface DistillRun {
  fineTuner: FineTuner;
  settings: FineTuneSettings;
  teacher: ModelIR;
  train: LabelledSet;
  seed: number;
  log(message: string): void;
  /** What progress lines start with (default 'fine-tune'). */
  label?: string;
}

/** Fine-tunes `ir` against `teacher`'s soft targets (and the labels), logging progress. */
export function distill(ir: ModelIR, run: DistillRun): Promise<FineTuneResult> {
  return run.fineTuner(ir, {
    ...run.settings,
    train: run.train,
    teacher: run.teacher,
    seed: run.seed,
    onProgress: fineTuneProgress(run.log, plannedSamples(run.settings, run.train.count), run.label),
  });
}

/**
 * Whether a recovery step's model (fine-tuning, reconstruction) replaces the one before it: the gate's metric decides
 * — it must not fall — and validation loss only breaks exact ties. (Keeping a fine-tune that lowered validation
 * accuracy because its loss fell could turn a model that passed the floor into one that fails it.)
 */
export function fineTuneHelped(before: Accuracy, after: Accuracy): boolean {
  return after.accuracy > before.accuracy || (after.accuracy === before.accuracy && after.loss <= before.loss);
}

/** Test accuracy of a recovery step, for the report only: never compared against anything. */
export async function testAccuracy(ir: ModelIR, test: LabelledSet, batchSize = 256): Promise<number> {
  const predictor = await createPredictor(ir, 'auto');
  try {
    return (await measureQuality(predictor, test, batchSize)).accuracy;
  } finally {
    predictor.dispose();
  }
}
