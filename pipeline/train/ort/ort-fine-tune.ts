/**
 * A FineTuner on onnxruntime-node: the IR becomes one training-step graph (step-graph.ts) that runs batch after
 * batch, driven by the recipe the tfjs FineTuner shares (recipe.ts: batch order, limits, learning-rate schedule,
 * progress), with cross-entropy on the labels plus T²-scaled KL distillation against the teacher's logits.
 * Dropout masks are drawn from a stream derived from the seed, so a run is reproducible. Teacher logits come from the teacher's in-memory ONNX export (tfjs if it cannot be
 * exported), one batch at a time.
 */
import { createPredictor, type Predictor } from '../../evaluate.ts';
import { SlimnetError } from '../../errors.ts';
import type { ModelIR } from '../../ir.ts';
import { deriveSeed } from '../../random.ts';
import { checkFineTuneOptions, runRecipe } from '../recipe.ts';
import { trainingIR } from '../training-ir.ts';
import type { FineTuneOptions, FineTuneResult, FineTuner } from '../types.ts';
import { canTrainOnOrt } from './support.ts';
import { OrtTrainer } from './trainer.ts';

export { canTrainOnOrt, type OrtTrainability } from './support.ts';

export interface OrtFineTuneExtras {
  /** onnxruntime intra-op threads (default 1: what the speed targets assume on a shared 2-core machine). */
  threads?: number;
}

export const ortFineTune: FineTuner = (ir, opts) => ortFineTuneWith(ir, opts);

export async function ortFineTuneWith(ir: ModelIR, opts: FineTuneOptions, extras: OrtFineTuneExtras = {}): Promise<FineTuneResult> {
  checkFineTuneOptions(opts);
  const support = canTrainOnOrt(ir);
  if (!support.ok) {
    throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${support.layer}" (${support.className})`,
      `onnxruntime training does not cover ${support.reason}`, 'fine-tune with the tfjs engine (pipeline/train/fine-tune.ts chooses it automatically)');
  }
  const started = performance.now();
  const distil = opts.teacher !== undefined && opts.alpha > 0;
  const trainer = await OrtTrainer.create(ir, {
    optimizer: { name: opts.optimizer }, learningRate: opts.learningRate, alpha: distil ? opts.alpha : 0,
    temperature: opts.temperature, batchNorm: opts.batchNorm, threads: extras.threads ?? 1, seed: deriveSeed(opts.seed, 'dropout'),
  });
  let teacher: Predictor | undefined;
  try {
    teacher = distil ? await createPredictor(trainingIR(opts.teacher!).ir, 'auto') : undefined;
    const { sampleShape } = opts.train;
    const run = await runRecipe(opts, async (batch, learningRate, samplesSoFar) => {
      const teacherLogits = teacher ? await teacher.predict(batch.x, batch.size, sampleShape) : undefined;
      const { loss } = await trainer.step({ x: batch.x, y: batch.y, size: batch.size, teacherLogits, learningRate });
      if (!Number.isFinite(loss)) {
        throw new SlimnetError('STAGE_FAILED', 'fine-tuning', `the training loss became ${loss} after ${samplesSoFar} samples`, 'lower the learning rate');
      }
      return loss;
    }, started);
    const result: FineTuneResult = { ir: trainer.toIR(), engine: 'ort', ...run };
    opts.onProgress?.({ samples: result.samples, loss: result.finalLoss, seconds: result.seconds });
    return result;
  } finally {
    teacher?.dispose();
    await trainer.release();
  }
}
