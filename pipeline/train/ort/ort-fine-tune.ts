/**
 * A FineTuner on onnxruntime-node: the IR becomes one training-step graph (step-graph.ts) that runs batch after
 * batch. Same recipe as the tfjs FineTuner, so either engine can stand in for the other: seeded batch order
 * (one permutation per epoch from createRng(seed)), cross-entropy on the labels plus T²-scaled KL distillation
 * against the teacher's logits, cosine learning-rate decay to zero over the planned samples (constant with only
 * a time limit), limits checked before each batch. Dropout masks are drawn from a stream derived from the seed,
 * so a run is reproducible. Teacher logits come from the teacher's in-memory ONNX export (tfjs if it cannot be
 * exported), one batch at a time.
 */
import { batches } from '../../data/splits.ts';
import { createPredictor, type Predictor } from '../../evaluate.ts';
import { SlimnetError } from '../../errors.ts';
import type { ModelIR } from '../../ir.ts';
import { createRng, deriveSeed, permutation } from '../../random.ts';
import { trainingIR } from '../training-ir.ts';
import type { FineTuneOptions, FineTuneResult, FineTuner } from '../types.ts';
import { canTrainOnOrt } from './support.ts';
import { OrtTrainer } from './trainer.ts';

export { canTrainOnOrt, type OrtTrainability } from './support.ts';

/** Progress is reported about this often (and once at the end), as the tfjs FineTuner does. */
const PROGRESS_EVERY_SECONDS = 2;

export interface OrtFineTuneExtras {
  /** onnxruntime intra-op threads (default 1: what the speed targets assume on a shared 2-core machine). */
  threads?: number;
}

export const ortFineTune: FineTuner = (ir, opts) => ortFineTuneWith(ir, opts);

export async function ortFineTuneWith(ir: ModelIR, opts: FineTuneOptions, extras: OrtFineTuneExtras = {}): Promise<FineTuneResult> {
  checkOptions(opts);
  const support = canTrainOnOrt(ir);
  if (!support.ok) {
    throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${support.layer}" (${support.className})`,
      `onnxruntime training does not cover ${support.reason}`, 'fine-tune with the tfjs engine (pipeline/train/fine-tune.ts chooses it automatically)');
  }
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const distil = opts.teacher !== undefined && opts.alpha > 0;
  const trainer = await OrtTrainer.create(ir, {
    optimizer: { name: opts.optimizer }, learningRate: opts.learningRate, alpha: distil ? opts.alpha : 0,
    temperature: opts.temperature, threads: extras.threads ?? 1, seed: deriveSeed(opts.seed, 'dropout'),
  });
  let teacher: Predictor | undefined;
  try {
    teacher = distil ? await createPredictor(trainingIR(opts.teacher!).ir, 'auto') : undefined;
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
    let lastLoss = Number.NaN;
    let lastReport = 0;
    outer: for (let epoch = 0; epoch < maxEpochs; epoch++) {
      const order = permutation(train.count, rng);
      for (const batch of batches(train, opts.batchSize, order)) {
        if (samples >= maxSamples || seconds() >= maxSeconds) break outer;
        const teacherLogits = teacher ? await teacher.predict(batch.x, batch.size, train.sampleShape) : undefined;
        const { loss } = await trainer.step({ x: batch.x, y: batch.y, size: batch.size, teacherLogits, learningRate: rateAt(samples) });
        if (!Number.isFinite(loss)) {
          throw new SlimnetError('STAGE_FAILED', 'fine-tuning', `the training loss became ${loss} after ${samples} samples`, 'lower the learning rate');
        }
        lastLoss = loss;
        samples += batch.size;
        lossSum += loss * batch.size;
        lossCount += batch.size;
        if (opts.onProgress && seconds() - lastReport >= PROGRESS_EVERY_SECONDS) {
          lastReport = seconds();
          opts.onProgress({ samples, loss: lossSum / lossCount, seconds: lastReport });
          [lossSum, lossCount] = [0, 0];
        }
      }
    }
    const result: FineTuneResult = {
      ir: trainer.toIR(), engine: 'ort', samples, seconds: seconds(), finalLoss: lossCount ? lossSum / lossCount : lastLoss,
    };
    opts.onProgress?.({ samples, loss: result.finalLoss, seconds: result.seconds });
    return result;
  } finally {
    teacher?.dispose();
    await trainer.release();
  }
}

function checkOptions(opts: FineTuneOptions): void {
  const limits = [opts.epochs, opts.maxSamples, opts.maxSeconds].filter((v) => v !== undefined);
  if (limits.length === 0) throw new Error('fine-tuning needs at least one of epochs, maxSamples, maxSeconds');
  if (limits.some((v) => !(v! > 0))) throw new Error(`fine-tuning limits must be positive: ${JSON.stringify({ epochs: opts.epochs, maxSamples: opts.maxSamples, maxSeconds: opts.maxSeconds })}`);
  if (!(opts.temperature > 0) || !(opts.alpha >= 0 && opts.alpha <= 1)) throw new Error('fine-tuning needs temperature > 0 and alpha in [0, 1]');
  if (!Number.isInteger(opts.batchSize) || opts.batchSize <= 0) throw new Error(`fine-tuning needs a positive integer batchSize, got ${opts.batchSize}`);
  if (!(opts.learningRate > 0)) throw new Error(`fine-tuning needs a positive learningRate, got ${opts.learningRate}`);
  if (opts.train.count === 0) throw new Error('fine-tuning needs training samples');
}
