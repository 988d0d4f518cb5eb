/**
 * Recovery of a pruning plan, measured after each step: channel removal, least-squares reconstruction of the
 * consumers, then distillation fine-tuning from the unpruned model. The gate's metric decides: a step's model
 * replaces the earlier one only if its validation accuracy is not lower (validation loss breaks exact ties), so a
 * fine-tune that lowers validation accuracy is discarded and the better earlier model ships — the report says so.
 * Test accuracy is measured for the report only.
 */
import type { LabelledSet } from '../data/types.ts';
import type { ChannelAnalysis } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import type { Accuracy } from '../metrics.ts';
import { distill, fineTuneHelped, type FineTuneSettings } from '../recovery/distill.ts';
import type { FineTuneReport } from '../recovery/steps.ts';
import type { FineTuner } from '../train/types.ts';
import type { RecoveryStep } from './prune-report.ts';
import { reconstructionTargets, type LayerFit, type Reconstructor } from './reconstruct.ts';
import { removeChannels } from './remove-channels.ts';
import type { SearchedModel } from '../recovery/searched-models.ts';

export type { FineTuneSettings } from '../recovery/distill.ts';

export interface RecoveryContext {
  original: ModelIR;
  analysis: ChannelAnalysis;
  reconstructor?: Reconstructor;
  /** The search's reconstruction of a plan and its validation quality, when it kept one (searched-models.ts). */
  reconstructed?(removed: Set<number>): SearchedModel<LayerFit> | undefined;
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
  fineTune?: FineTuneReport;
  /** Stage time when each step's measurement finished, and the fine-tune's wall time: the stage's timings. */
  times: { step: RecoveryStep['step']; seconds: number }[];
  fineTuneSeconds?: number;
  /** Steps whose model was discarded because validation accuracy fell, and the earlier step kept instead. */
  discarded: DiscardedStep[];
}

export interface DiscardedStep {
  step: RecoveryStep['step'];
  valAccuracy: number;
  /** The earlier step whose model was kept, and its validation accuracy. */
  kept: RecoveryStep['step'];
  keptValAccuracy: number;
}

/** The decision every recovery step goes through: the gate's metric first, validation loss only for exact ties. */
export const notWorse = (candidate: Accuracy, incumbent: Accuracy): boolean => fineTuneHelped(incumbent, candidate);

/**
 * Removal → reconstruction → fine-tuning of `removed`; or, given `searched` (a model the progressive search already
 * pruned, reconstructed and briefly fine-tuned), its measurement and the long fine-tune only.
 */
export async function recover(removed: Set<number>, rc: RecoveryContext, searched?: ModelIR): Promise<Recovered> {
  const steps: RecoveryStep[] = [];
  const times: Recovered['times'] = [];
  /** `known`: the validation quality the search measured for this very model. */
  const measure = async (step: RecoveryStep['step'], ir: ModelIR, known?: Accuracy) => {
    const val = known ?? await rc.validate(ir);
    const test = await rc.testAccuracy(ir);
    steps.push({ step, valAccuracy: val.accuracy, valLoss: val.loss, testAccuracy: test });
    times.push({ step, seconds: rc.elapsed() });
    rc.log(`after ${step}: val ${(val.accuracy * 100).toFixed(2)}% (loss ${val.loss.toFixed(4)}), test ${(test * 100).toFixed(2)}% (${rc.elapsed().toFixed(1)} s)`);
    return { ir, val, step };
  };
  const discarded: DiscardedStep[] = [];
  /** The better of the kept model and a step's model, on the gate's metric. */
  const keepBetter = (best: Measured, next: Measured): Measured => {
    if (notWorse(next.val, best.val)) return next;
    discarded.push({ step: next.step, valAccuracy: next.val.accuracy, kept: best.step, keptValAccuracy: best.val.accuracy });
    rc.log(`${next.step} lowered validation accuracy ${pct(best.val.accuracy)} → ${pct(next.val.accuracy)}: the model after ${best.step} is kept`);
    return best;
  };
  let fits: LayerFit[] = [];
  const pruned = searched ?? removeChannels(rc.original, rc.analysis, removed);
  let best = await measure(searched ? 'search' : 'removal', pruned);
  if (rc.reconstructor && !searched) {
    // The search built and measured most plans it hands on: the same reconstruction, not made twice.
    const known = rc.reconstructed?.(removed);
    const rebuilt = known ?? await rc.reconstructor.run(pruned, reconstructionTargets(rc.analysis, removed));
    fits = rebuilt.fits;
    best = keepBetter(best, await measure('reconstruction', rebuilt.ir, known?.val));
  }
  let fineTune: Recovered['fineTune'];
  let fineTuneSeconds: number | undefined;
  if (rc.fineTune) {
    const result = await distill(best.ir, { fineTuner: rc.fineTuner, settings: rc.fineTune, teacher: rc.original, train: rc.train, seed: rc.seed, log: rc.log });
    const tuned = await measure('fine-tuning', result.ir);
    best = keepBetter(best, tuned);
    fineTune = { engine: result.engine, samples: result.samples, finalLoss: result.finalLoss, kept: best === tuned };
    fineTuneSeconds = result.seconds;
  }
  return { ir: best.ir, valAccuracy: best.val.accuracy, steps, fits, fineTune, discarded, times, fineTuneSeconds };
}

interface Measured {
  ir: ModelIR;
  val: Accuracy;
  step: RecoveryStep['step'];
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
