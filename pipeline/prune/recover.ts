/**
 * Recovery of a pruning plan, measured after each step: channel removal, least-squares reconstruction of the
 * consumers, then distillation fine-tuning from the unpruned model. Validation decides (fine-tuning is kept
 * unless it raised the validation loss — a smoother signal than a few flipped samples); test accuracy is
 * measured for the report only.
 */
import type { LabelledSet } from '../data/types.ts';
import type { ChannelAnalysis } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import type { Accuracy } from '../metrics.ts';
import { distill, fineTuneHelped, type FineTuneSettings } from '../recovery/distill.ts';
import type { FineTuner } from '../train/types.ts';
import type { RecoveryStep } from './prune-report.ts';
import { reconstructionTargets, type LayerFit, type Reconstructor } from './reconstruct.ts';
import { removeChannels } from './remove-channels.ts';

export type { FineTuneSettings } from '../recovery/distill.ts';

export interface RecoveryContext {
  original: ModelIR;
  analysis: ChannelAnalysis;
  reconstructor?: Reconstructor;
  fineTuner: FineTuner;
  fineTune: FineTuneSettings | false;
  train: LabelledSet;
  seed: number;
  validate(ir: ModelIR): Promise<Accuracy>;
  /** Report only. */
  testAccuracy(ir: ModelIR): Promise<number>;
  log(message: string): void;
  elapsed(): number;
}

export interface Recovered {
  ir: ModelIR;
  valAccuracy: number;
  steps: RecoveryStep[];
  fits: LayerFit[];
  fineTune?: { engine: string; samples: number; seconds: number; finalLoss: number; kept: boolean };
}

export async function recover(removed: Set<number>, rc: RecoveryContext): Promise<Recovered> {
  const steps: RecoveryStep[] = [];
  const measure = async (step: RecoveryStep['step'], ir: ModelIR) => {
    const val = await rc.validate(ir);
    const test = await rc.testAccuracy(ir);
    steps.push({ step, valAccuracy: val.accuracy, valLoss: val.loss, testAccuracy: test, seconds: rc.elapsed() });
    rc.log(`after ${step}: val ${(val.accuracy * 100).toFixed(2)}% (loss ${val.loss.toFixed(4)}), test ${(test * 100).toFixed(2)}% (${rc.elapsed().toFixed(1)} s)`);
    return { ir, val };
  };
  const pruned = removeChannels(rc.original, rc.analysis, removed);
  let best = await measure('removal', pruned);
  let fits: LayerFit[] = [];
  if (rc.reconstructor) {
    const rebuilt = await rc.reconstructor.run(pruned, reconstructionTargets(rc.analysis, removed));
    fits = rebuilt.fits;
    best = await measure('reconstruction', rebuilt.ir);
  }
  let fineTune: Recovered['fineTune'];
  if (rc.fineTune) {
    const result = await distill(best.ir, { fineTuner: rc.fineTuner, settings: rc.fineTune, teacher: rc.original, train: rc.train, seed: rc.seed, log: rc.log });
    const tuned = await measure('fine-tuning', result.ir);
    const kept = fineTuneHelped(best.val, tuned.val);
    fineTune = { engine: result.engine, samples: result.samples, seconds: result.seconds, finalLoss: result.finalLoss, kept };
    if (kept) best = tuned;
  }
  return { ir: best.ir, valAccuracy: best.val.accuracy, steps, fits, fineTune };
}
