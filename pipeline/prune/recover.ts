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
import type { FineTuneOptions, FineTuner } from '../train/types.ts';
import type { RecoveryStep } from './prune-report.ts';
import { reconstructionTargets, type LayerFit, type Reconstructor } from './reconstruct.ts';
import { removeChannels } from './remove-channels.ts';

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

export type FineTuneSettings = Pick<FineTuneOptions, 'temperature' | 'alpha' | 'epochs' | 'maxSamples' | 'maxSeconds' | 'batchSize' | 'learningRate' | 'optimizer' | 'batchNorm'>;

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

/**
 * Removal → reconstruction → fine-tuning of `removed`; or, given `searched` (a model the progressive search already
 * pruned, reconstructed and briefly fine-tuned), its measurement and the long fine-tune only.
 */
export async function recover(removed: Set<number>, rc: RecoveryContext, searched?: ModelIR): Promise<Recovered> {
  const steps: RecoveryStep[] = [];
  const measure = async (step: RecoveryStep['step'], ir: ModelIR) => {
    const val = await rc.validate(ir);
    const test = await rc.testAccuracy(ir);
    steps.push({ step, valAccuracy: val.accuracy, valLoss: val.loss, testAccuracy: test, seconds: rc.elapsed() });
    rc.log(`after ${step}: val ${(val.accuracy * 100).toFixed(2)}% (loss ${val.loss.toFixed(4)}), test ${(test * 100).toFixed(2)}% (${rc.elapsed().toFixed(1)} s)`);
    return { ir, val };
  };
  let fits: LayerFit[] = [];
  const pruned = searched ?? removeChannels(rc.original, rc.analysis, removed);
  let best = await measure(searched ? 'search' : 'removal', pruned);
  if (rc.reconstructor && !searched) {
    const rebuilt = await rc.reconstructor.run(pruned, reconstructionTargets(rc.analysis, removed));
    fits = rebuilt.fits;
    best = await measure('reconstruction', rebuilt.ir);
  }
  let fineTune: Recovered['fineTune'];
  if (rc.fineTune) {
    const result = await rc.fineTuner(best.ir, {
      ...rc.fineTune,
      train: rc.train,
      teacher: rc.original,
      seed: rc.seed,
      onProgress: fineTuneProgress(rc.log, plannedSamples(rc.fineTune, rc.train.count)),
    });
    const tuned = await measure('fine-tuning', result.ir);
    const kept = tuned.val.loss <= best.val.loss || tuned.val.accuracy > best.val.accuracy;
    fineTune = { engine: result.engine, samples: result.samples, seconds: result.seconds, finalLoss: result.finalLoss, kept };
    if (kept) best = tuned;
  }
  return { ir: best.ir, valAccuracy: best.val.accuracy, steps, fits, fineTune };
}
