/** Accuracy after each recovery step of a stage (removal/replacement, refit, fine-tuning), and its report.md lines. */

export interface RecoveryStep<S extends string = string> {
  step: S;
  valAccuracy: number;
  valLoss: number;
  /** Reported only; never used for a decision. */
  testAccuracy: number;
  /** Stage time when the step's measurement finished. */
  seconds: number;
}

export interface FineTuneReport {
  engine: string;
  samples: number;
  seconds: number;
  finalLoss: number;
  kept: boolean;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** The table of accuracy after each step, then one line on fine-tuning. */
export function renderRecovery(steps: RecoveryStep[] | undefined, fineTune: Omit<FineTuneReport, 'finalLoss'> | undefined, discarded: string): string[] {
  const lines: string[] = [];
  if (steps?.length) {
    lines.push('| after | val acc | test acc | val loss |', '|---|---|---|---|');
    for (const r of steps) lines.push(`| ${r.step} | ${pct(r.valAccuracy)} | ${pct(r.testAccuracy)} | ${r.valLoss.toFixed(4)} |`);
    lines.push('');
  }
  if (fineTune) {
    lines.push(`Fine-tuning: ${fineTune.samples.toLocaleString('en-US')} samples on ${fineTune.engine} in ${fineTune.seconds.toFixed(1)} s (${fineTune.kept ? 'kept' : discarded}).`);
  }
  return lines;
}
