/** Accuracy after each recovery step of a stage (removal/replacement, refit, fine-tuning), and its report.md lines. */

export interface RecoveryStep<S extends string = string> {
  step: S;
  valAccuracy: number;
  valLoss: number;
  /** Reported only; never used for a decision. */
  testAccuracy: number;
}

/**
 * Stage time when a recovery step's measurement finished, by attempt (the plans recovered in turn): wall time varies
 * run to run, so it lives in the stage's `timings.recovery`, never in `details` (two identical runs reproduce those).
 */
export interface StepTime {
  attempt: number;
  step: string;
  seconds: number;
}

/** A fine-tune's outcome (deterministic: its wall time is the stage's `timings.fineTuneSeconds`). */
export interface FineTuneReport {
  engine: string;
  samples: number;
  finalLoss: number;
  kept: boolean;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** The table of accuracy after each step, then one line on fine-tuning (with its wall time when the timings have it). */
export function renderRecovery(steps: RecoveryStep[] | undefined, fineTune: Omit<FineTuneReport, 'finalLoss'> | undefined, discarded: string, fineTuneSeconds?: number): string[] {
  const lines: string[] = [];
  if (steps?.length) {
    lines.push('| after | val acc | test acc | val loss |', '|---|---|---|---|');
    for (const r of steps) lines.push(`| ${r.step} | ${pct(r.valAccuracy)} | ${pct(r.testAccuracy)} | ${r.valLoss.toFixed(4)} |`);
    lines.push('');
  }
  if (fineTune) {
    const time = typeof fineTuneSeconds === 'number' ? ` in ${fineTuneSeconds.toFixed(1)} s` : '';
    lines.push(`Fine-tuning: ${fineTune.samples.toLocaleString('en-US')} samples on ${fineTune.engine}${time} (${fineTune.kept ? 'kept' : discarded}).`);
  }
  return lines;
}
