/**
 * Builds the StageContext a stage runs with: the data, the budget it may spend, and how candidates and artifacts
 * are measured. The runner uses it for every stage; tests use it to run a stage directly with the same semantics.
 */
import { stratifiedSample, subset } from './data/splits.ts';
import type { DataSplits, LabelledSet } from './data/types.ts';
import { createPredictor, measureQuality, type EvaluationEngine } from './evaluate.ts';
import { measureSharingPrefix } from './evaluate-shared.ts';
import { isSlimnetError } from './errors.ts';
import type { ModelIR } from './ir.ts';
import { DEFAULT_MEMORY_BUDGET_MB, inferenceBatch, megabytes } from './memory.ts';
import type { QualitySetting } from './quality.ts';
import type { Metrics } from './metrics.ts';
import { reportStep } from './progress/events.ts';
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
  let candidates = 0;
  const memoryBudgetMB = parts.memoryBudgetMB ?? DEFAULT_MEMORY_BUDGET_MB;
  const setFor = (samples: number | undefined) => (samples === undefined ? data.validation : validationSample(data.validation, samples, parts.seed));
  const evaluateCandidate: StageContext['evaluateCandidate'] = async (ir, opts = {}) => {
    const set = setFor(opts.samples);
    const batchSize = Math.min(opts.batchSize ?? Infinity, evaluationBatch(ir, evaluation.batchSize, memoryBudgetMB));
    const predictor = await createPredictor(ir, evaluation.engine);
    try {
      return await measureQuality(predictor, set, batchSize);
    } finally {
      predictor.dispose();
      reportStep({ label: 'candidates', done: ++candidates, unit: 'evaluated' });
    }
  };
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
    evaluateCandidate,
    async evaluateCandidates(reference, list, opts = {}) {
      const eachWhole = async () => {
        const results = [];
        for (const c of list) results.push(await evaluateCandidate(c, opts));
        return { results };
      };
      if (evaluation.engine === 'tfjs' || reference.inputs.length !== 1 || list.length === 0) return eachWhole();
      const batchSize = Math.min(opts.batchSize ?? Infinity, evaluationBatch(reference, evaluation.batchSize, memoryBudgetMB));
      let shared;
      try {
        shared = await measureSharingPrefix(reference, list, setFor(opts.samples), { batchSize, memoryBytes: megabytes(memoryBudgetMB) / 2, concurrency: opts.concurrency ?? 1 });
      } catch (e) {
        // As createPredictor: a layer the ONNX export does not take is evaluated by tfjs ('auto'), whole.
        if (evaluation.engine === 'auto' && isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED') return eachWhole();
        throw e;
      }
      for (let i = 0; i < list.length; i++) reportStep({ label: 'candidates', done: ++candidates, unit: 'evaluated' });
      return shared;
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
