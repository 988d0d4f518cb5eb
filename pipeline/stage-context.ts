/**
 * Builds the StageContext a stage runs with: the data, the budget it may spend, and how candidates and artifacts
 * are measured. The runner uses it for every stage; tests use it to run a stage directly with the same semantics.
 */
import type { DataSplits } from './data/types.ts';
import { createPredictor, measureQuality, type EvaluationEngine } from './evaluate.ts';
import type { QualitySetting } from './quality.ts';
import type { Metrics } from './metrics.ts';
import { reportStep } from './progress/events.ts';
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
  /** Default: classify with the data's labels (top-1 accuracy). */
  quality?: QualitySetting;
  log?(message: string): void;
}

export function createStageContext(parts: StageContextParts): StageContext {
  const { data, evaluation } = parts;
  let candidates = 0;
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
    async evaluateCandidate(ir) {
      const predictor = await createPredictor(ir, evaluation.engine);
      try {
        return await measureQuality(predictor, data.validation, evaluation.batchSize);
      } finally {
        predictor.dispose();
        reportStep({ label: 'candidates', done: ++candidates, unit: 'evaluated' });
      }
    },
    measure: (predictor, split) => measureQuality(predictor, data[split], evaluation.batchSize),
    log: parts.log ?? (() => {}),
  };
}
