/**
 * `compress --dry-run`: everything a run would decide before its first stage — the resolved config, the stages and
 * their options, the floors they are held to, whether --out may be replaced, and which stages the cache would
 * serve — without running a stage or writing a byte. It reads the model and the data and measures the baseline's
 * validation accuracy (the floors and the cache keys depend on it); nothing else.
 */
import { existsSync, readdirSync } from 'node:fs';
import { peekCache } from './cache.ts';
import type { ResolvedConfig } from './config.ts';
import type { ValidationSource } from './data/types.ts';
import { createPredictor, measureQuality } from './evaluate.ts';
import { countMacs } from './graph/macs.ts';
import { checkOutFolder } from './io/output-folder.ts';
import { countParams, type ModelIR } from './ir.ts';
import type { Metrics } from './metrics.ts';
import { gatedAccuracy, type GatedAccuracy } from './report-validation.ts';
import { budgetOf, cacheKeyOf, evaluationWithin, gate } from './run-stage.ts';
import { loadInputs, protectedPaths, resolveStages } from './runner.ts';
import { modelSignature, type ModelSignature } from './signature.ts';

export type StageCachePlan =
  | { status: 'cached'; key: string; outcome: 'accepted' | 'rejected'; metrics: Metrics }
  | { status: 'would run'; key: string }
  | { status: 'would run'; after: string }
  | { status: 'cache off' };

export interface StagePlan {
  name: string;
  onBudgetMiss: 'reject' | 'fail';
  /** The stage's options with every default filled in. */
  options: Record<string, unknown>;
  /** The stage's share of the pipeline budget, the drop it may end at (cumulative) and the floor it is gated on. */
  budget: { share: number; maxAccuracyDrop: number; floor: number };
  cache: StageCachePlan;
}

export interface PipelinePlan {
  config: Record<string, unknown>;
  out: { path: string; state: 'new' | 'empty' | 'a previous slimnet run, to be replaced' };
  cacheDir: string | false;
  model: { path: string; layers: number; params: number; macs: number };
  signature: ModelSignature;
  data: { train: number; validation: number; test: number; validationSource?: ValidationSource; fingerprint: string };
  baseline: GatedAccuracy & { engine: string };
  budget: { maxAccuracyDrop: number; floor: number };
  /** Set when the budget is smaller than the baseline interval's half-width. */
  warning?: string;
  stages: StagePlan[];
}

export async function planPipeline(config: ResolvedConfig, opts: { force?: boolean } = {}): Promise<PipelinePlan> {
  const stageRuns = resolveStages(config);
  const outDir = config.out!;
  // The same refusal a run would give, before any work; checking reads the folder, never writes it.
  checkOutFolder(outDir, { ...protectedPaths(config), cacheDir: config.cacheDir }, opts.force);
  const { backend, model: source, data, quality } = await loadInputs(config);
  const ir = source.ir;
  const predictor = await createPredictor(ir, config.evaluation.engine);
  let valAccuracy: number;
  try {
    valAccuracy = (await measureQuality(predictor, data.validation, evaluationWithin(config, ir).batchSize)).accuracy;
  } finally {
    predictor.dispose();
  }
  const baseline = { ...gatedAccuracy(valAccuracy, data.validation.count), engine: predictor.engine };
  const drop = config.budget.maxAccuracyDrop;
  const stages: StagePlan[] = [];
  let input: ModelIR | undefined = ir;
  let unknownAfter: string | undefined;
  for (const run of stageRuns) {
    const budget = budgetOf(run, { config, baseline: { valAccuracy } });
    const plan: StagePlan = {
      name: run.stage.name,
      onBudgetMiss: run.onBudgetMiss,
      options: run.options,
      budget: { share: budget.share, maxAccuracyDrop: budget.maxDrop, floor: budget.floor },
      cache: { status: 'cache off' },
    };
    stages.push(plan);
    if (!config.cacheDir) continue;
    if (!input) {
      plan.cache = { status: 'would run', after: unknownAfter! };
      continue;
    }
    const key = cacheKeyOf(run, input, { config, data, backend, baseline: { valAccuracy } });
    const hit = existsSync(config.cacheDir) ? await peekCache(config.cacheDir, key) : undefined;
    if (!hit) {
      plan.cache = { status: 'would run', key };
      // The next stage's input is this stage's output, unknown until it runs.
      input = undefined;
      unknownAfter = run.stage.name;
      continue;
    }
    const verdict = hit.entry.output.verdict?.status === 'rejected' ? 'rejected' : gate(hit.entry.metrics, budget, quality.metric).status;
    plan.cache = { status: 'cached', key, outcome: verdict, metrics: hit.entry.metrics };
    if (verdict === 'accepted') input = hit.ir;
  }
  return {
    config: printable(config),
    out: { path: outDir, state: outState(outDir) },
    cacheDir: config.cacheDir,
    model: { path: config.model, layers: ir.layers.length, params: countParams(ir), macs: countMacs(ir).total },
    signature: modelSignature(ir, data.describe),
    data: { train: data.train.count, validation: data.validation.count, test: data.test.count, validationSource: data.validationSource, fingerprint: data.fingerprint },
    baseline,
    budget: { maxAccuracyDrop: drop, floor: valAccuracy - drop },
    ...(drop < baseline.halfWidth ? { warning: `the budget (${(drop * 100).toFixed(2)} pt) is smaller than the ±${(baseline.halfWidth * 100).toFixed(2)} pt 95% interval of the baseline's validation accuracy: gate decisions are within measurement noise` } : {}),
    stages,
  };
}

/** checkOutFolder has passed: an existing folder with entries is a run slimnet wrote. */
function outState(out: string): PipelinePlan['out']['state'] {
  if (!existsSync(out)) return 'new';
  return readdirSync(out).length > 0 ? 'a previous slimnet run, to be replaced' : 'empty';
}

/** The resolved config as JSON can show it: functions (data loaders) named, not dropped. */
function printable(config: ResolvedConfig): Record<string, unknown> {
  return JSON.parse(JSON.stringify(config, (_key, value) => (typeof value === 'function' ? '[function]' : value))) as Record<string, unknown>;
}
