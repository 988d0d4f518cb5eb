/**
 * The stage contract. A stage is one file under stages/, exporting a StageDefinition: a zod schema for its
 * options (every option has a default and a one-line description) and a factory that turns validated
 * options into a runnable Stage. The runner owns evaluation, gating, caching and artifact writes.
 */
import type { z } from 'zod';
import type { StageBudget } from './budget.ts';
import type { QualitySetting } from './quality.ts';
import type { DataSplits } from './data/types.ts';
import type { Predictor } from './evaluate.ts';
import type { PrefixReuse } from './evaluate-shared.ts';
import type { ModelIR } from './ir.ts';
import type { Metrics, Accuracy } from './metrics.ts';

/** Fixed names: configs, CI scripts and report.json refer to them. Implemented ones are in stages/index.ts. */
export const STAGE_NAMES = ['prune', 'separable', 'quantize', 'export'] as const;
export type StageName = (typeof STAGE_NAMES)[number];

export interface StageContext {
  data: DataSplits;
  seed: number;
  /** Scratch folder for the stage's files; the runner moves it into place only when the stage completes. */
  stageDir: string;
  /** The input model's metrics (measured by the runner before this stage). */
  inputMetrics: Metrics;
  baseline: Metrics;
  /**
   * This stage's part of the pipeline budget, set by the runner: `floor` is the validation accuracy its output must
   * keep (its searches aim at it; the runner's gate compares it), `maxDrop` the drop from the baseline that allows.
   */
  budget: StageBudget;
  /** The run's task and quality metric (pipeline/quality.ts): what `evaluateCandidate` and the floor measure. */
  quality: QualitySetting;
  /** The configured working-memory budget in MB (see pipeline/memory.ts); stages size batches and caches by it. */
  memoryBudgetMB: number;
  /** Validation quality/loss of a candidate model (measureQuality): what searches compare. Never looks at the test split. */
  evaluateCandidate(ir: ModelIR, opts?: CandidateEvaluation): Promise<Accuracy>;
  /**
   * evaluateCandidate for several candidates derived from `reference` (results in their order), sharing the forward
   * pass up to where each first differs from it (pipeline/evaluate-shared.ts) when onnxruntime evaluates; `reuse`
   * says what that saved (absent when each ran whole: tfjs, or a layer ONNX cannot export).
   */
  evaluateCandidates(reference: ModelIR, candidates: ModelIR[], opts?: CandidateEvaluation & { concurrency?: number }): Promise<{ results: Accuracy[]; reuse?: PrefixReuse }>;
  /** Accuracy/loss of any predictor (e.g. an exported artifact) on a split: validation decides, test is reported. */
  measure(predictor: Predictor, split: 'validation' | 'test'): Promise<Accuracy>;
  log(message: string): void;
}

/**
 * What the stage concluded about its own result. The runner derives the exit code from verdicts: `failed` with
 * exitClass 1 is a requirement not met (e.g. an export that does not reproduce the model), 2 bad input (e.g. a
 * layer the stage cannot handle). An accepted result still goes through the runner's budget gate.
 */
export type StageVerdict =
  | { status: 'accepted' }
  | { status: 'rejected'; reason: string }
  | { status: 'failed'; reason: string; exitClass: 1 | 2 };

export interface CandidateEvaluation {
  /** Measure on a fixed, seeded, class-stratified sample of this many validation samples (all when ≥ the split). */
  samples?: number;
  /** Largest inference batch (the runner also keeps it within the memory budget). */
  batchSize?: number;
}

export interface StageOutput {
  ir: ModelIR;
  /**
   * Set when the stage wrote its own model file (e.g. a quantised model.json) whose size is what ships;
   * path relative to stageDir. Otherwise the runner writes `model/model.json` from `ir`.
   */
  modelJson?: string;
  /** Exported artifacts by format id, paths relative to stageDir. */
  exports?: Record<string, string>;
  /** Stage-specific, machine-readable account of what it did (per-layer changes, parity numbers, ...). Deterministic: no timings. */
  details?: Record<string, unknown>;
  /**
   * Figures that differ run to run (latencies of the stage's artifacts, ...), kept apart from `details` so that two
   * identical runs give identical details. In report.json as the stage's `timings`; `timings.notes` (strings drawn
   * from timings) are listed with the stage's notes in report.md.
   */
  timings?: Record<string, unknown>;
  notes?: string[];
  /** Default: accepted. */
  verdict?: StageVerdict;
}

export interface Stage {
  name: string;
  run(ir: ModelIR, ctx: StageContext): Promise<StageOutput>;
}

export interface StageDefinition<Schema extends z.ZodType = z.ZodType> {
  name: string;
  /** The stage changes the model's accuracy (prune, separable, quantize): it gets a share of the budget by default. */
  changesAccuracy: boolean;
  /** One line for --help and the README. */
  description: string;
  options: Schema;
  create(options: z.output<Schema>): Stage;
  /** Options a former version accepted, and what replaced them: the hint of their unknown-option error. */
  retiredOptions?: Record<string, string>;
  /** Markdown lines for report.md from the stage's `details` and `timings` (report.json keeps the data itself). */
  renderDetails?(details: Record<string, unknown>, timings?: Record<string, unknown>): string[];
}
