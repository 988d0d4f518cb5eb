/**
 * Builds the StageContext a stage runs with: the data, the budget it may spend, and how candidates and artifacts
 * are measured. The runner uses it for every stage; tests use it to run a stage directly with the same semantics.
 */
import { stratifiedSample, subset } from './data/splits.ts';
import type { DataSplits, LabelledSet } from './data/types.ts';
import { createPredictor, measureQuality, type EvaluationEngine } from './evaluate.ts';
import type { ModelIR } from './ir.ts';
import { DEFAULT_MEMORY_BUDGET_MB, inferenceBatch, megabytes } from './memory.ts';
import type { QualitySetting } from './quality.ts';
import type { Metrics } from './metrics.ts';
import { deriveSeed } from './random.ts';
import type { StageContext } from './stage.ts';

export interface StageContextParts {
  data: DataSplits;
  seed: number;
  stageDir: string;
  baseline: Metrics;
  /** The stage's input model's metrics; default the baseline's. */
  inputMetrics?: Metrics;
  /** The stage's allowed drop from the baseline (the runner's cumulative share of the budget), its share and the pipeline's budget. */
  budget: { maxDrop: number; share?: number; total?: number };
  evaluation: { engine: EvaluationEngine; batchSize: number };
  /** Working memory in MB (config memoryBudgetMB); default DEFAULT_MEMORY_BUDGET_MB. */
  memoryBudgetMB?: number;
  /** Default: classify with the data's labels (top-1 accuracy). */
  quality?: QualitySetting;
  log?(message: string): void;
}

/**
 * The inference batch for `ir`: the configured one, kept within half the memory budget (onnxruntime gains nothing
 * from batches beyond a few dozen samples; the other half stays for the data and the stage).
 */
export function evaluationBatch(ir: ModelIR, configured: number, memoryBudgetMB: number): number {
  return inferenceBatch(ir, configured, megabytes(memoryBudgetMB) / 2);
}

export function createStageContext(parts: StageContextParts): StageContext {
  const { data, evaluation } = parts;
  const memoryBudgetMB = parts.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB;
  return {
    data,
    seed: parts.seed,
    stageDir: parts.stageDir,
    inputMetrics: parts.inputMetrics ?? parts.baseline,
    baseline: parts.baseline,
    quality: parts.quality ?? { task: 'classify', labels: 'data', metric: 'accuracy' },
    budget: {
      total: parts.budget.total ?? parts.budget.maxDrop,
      share: parts.budget.share ?? 1,
      maxDrop: parts.budget.maxDrop,
      floor: parts.baseline.valAccuracy - parts.budget.maxDrop,
    },
    memoryBudgetMB,
    async evaluateCandidate(ir, opts = {}) {
      const set = opts.samples === undefined ? data.validation : validationSample(data.validation, opts.samples, parts.seed);
      const batchSize = Math.min(opts.batchSize ?? Infinity, evaluationBatch(ir, evaluation.batchSize, memoryBudgetMB));
      const predictor = await createPredictor(ir, evaluation.engine);
      try {
        return await measureQuality(predictor, set, batchSize);
      } finally {
        predictor.dispose();
      }
    },
    measure: (predictor, split) => measureQuality(predictor, data[split], evaluation.batchSize),
    log: parts.log ?? (() => {}),
  };
}

/** The same validation sample for every candidate of a run (seeded, class-stratified), built once per size. */
const samples = new WeakMap<LabelledSet, Map<string, LabelledSet>>();
function validationSample(validation: LabelledSet, n: number, seed: number): LabelledSet {
  if (n >= validation.count) return validation;
  const bySize = samples.get(validation) ?? new Map<string, LabelledSet>();
  samples.set(validation, bySize);
  const key = `${n}:${seed}`;
  let s = bySize.get(key);
  if (!s) bySize.set(key, (s = subset(validation, stratifiedSample(validation, n, deriveSeed(seed, 'validation-sample')))));
  return s;
}
