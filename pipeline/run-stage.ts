/**
 * Runs one stage: cache lookup, the stage itself in a scratch folder, writing its model, measuring it, and the
 * accuracy gate. A user-fixable failure (SlimnetError) becomes a 'failed' entry; a bug propagates.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { stageBudget, type BudgetSplit, type StageBudget } from './budget.ts';
import { readCache, stageCacheKey, writeCache, type CacheEntry } from './cache.ts';
import type { ResolvedConfig } from './config.ts';
import type { DataSplits } from './data/types.ts';
import { isSlimnetError } from './errors.ts';
import { evaluateModel } from './evaluate.ts';
import { modelBytes } from './io/model-files.ts';
import { writeModel } from './io/write-model.ts';
import type { ModelIR } from './ir.ts';
import type { Metrics } from './metrics.ts';
import type { StageReport } from './report.ts';
import { stageGate } from './report-validation.ts';
import type { Stage, StageContext, StageOutput, StageVerdict } from './stage.ts';
import { createStageContext, evaluationBatch } from './stage-context.ts';
import { METRIC_NAMES, type QualitySetting } from './quality.ts';
import { toolBuildId } from './version.ts';

export interface StageRun {
  stage: Stage;
  options: Record<string, unknown>;
  onBudgetMiss: 'reject' | 'fail';
  /** The stage's share of the budget and the cumulative share up to it (runner.resolveStages). */
  budget: BudgetSplit;
}

export interface StageRunContext {
  config: ResolvedConfig;
  data: DataSplits;
  /** The run's quality metric; default classify with the data's labels. */
  quality?: QualitySetting;
  backend: string;
  baseline: Metrics;
  /** The folder the run is being assembled in; the stage's folder goes beneath it. */
  runDir: string;
  log(message: string): void;
}

export interface StageResult {
  report: StageReport;
  /** The model handed to the next stage: the stage's output if accepted, else its input. */
  ir: ModelIR;
  metrics: Metrics;
  /** What this stage means for the run's exit code: 0 fine, 1 a requirement not met, 2 bad input. */
  exitClass: 0 | 1 | 2;
  /** Set when the stage failed: the run skips the stages after it. */
  failure?: string;
  /** The stage's exported artifacts by format id, relative to the report's folder. */
  exports: Record<string, string>;
}

/** The stage's budget for this run: its share of the pipeline's, against the baseline (a dry run asks it too). */
export function budgetOf(run: StageRun, rc: Pick<StageRunContext, 'config'> & { baseline: Pick<Metrics, 'valAccuracy'> }): StageBudget {
  return stageBudget(rc.config.budget.maxAccuracyDrop, run.budget, rc.baseline.valAccuracy);
}

/** The stage's cache key for this input model and run (a dry run asks it too, to say what would come from the cache). */
export function cacheKeyOf(
  run: StageRun, input: ModelIR, rc: Pick<StageRunContext, 'config' | 'data' | 'backend'> & { baseline: Pick<Metrics, 'valAccuracy'> },
): string {
  return stageCacheKey({
    ir: input,
    stage: run.stage.name,
    options: run.options,
    dataFingerprint: rc.data.fingerprint,
    seed: rc.config.seed,
    // Batch sizes (evaluation, fine-tuning) follow the memory budget, and fine-tuning results follow the batch.
    evaluation: { ...rc.config.evaluation, memoryBudgetMB: rc.config.memoryBudgetMB },
    // Searching stages aim at their budget floor, so their output depends on it.
    budget: { maxDrop: budgetOf(run, rc).maxDrop, baselineValAccuracy: rc.baseline.valAccuracy },
    backend: rc.backend,
    toolVersion: toolBuildId(),
  });
}

export async function runStage(run: StageRun, input: { ir: ModelIR; metrics: Metrics }, rc: StageRunContext): Promise<StageResult> {
  const started = performance.now();
  const name = run.stage.name;
  const stageDir = path.join(rc.runDir, name);
  await rm(stageDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true });
  const { config } = rc;
  const budget = budgetOf(run, rc);
  const cacheKey = cacheKeyOf(run, input.ir, rc);
  const cacheLog = (message: string) => rc.log(`${name}: ${message}`);
  const cached = config.cacheDir ? await readCache(config.cacheDir, cacheKey, stageDir, cacheLog) : undefined;
  let entry: CacheEntry;
  let outIr: ModelIR;
  if (cached) {
    rc.log(`${name}: cached result (key ${cacheKey.slice(0, 12)})`);
    ({ entry, ir: outIr } = cached);
  } else {
    let output: StageOutput;
    try {
      output = await run.stage.run(input.ir, stageContext(run, input, rc, stageDir, budget));
    } catch (e) {
      if (!isSlimnetError(e)) throw e;
      return failed(run, input, { status: 'failed', reason: e.oneLine().replace(/^slimnet: /, ''), exitClass: 2 }, started);
    }
    const stageVerdict: StageVerdict = output.verdict ?? { status: 'accepted' };
    const outputs = { modelJson: output.modelJson, exports: output.exports, details: output.details, notes: output.notes };
    if (stageVerdict.status === 'failed') return failed(run, input, stageVerdict, started, outputs);
    outIr = output.ir;
    const modelJson = output.modelJson ?? 'model/model.json';
    if (!output.modelJson) await writeModel(outIr, path.join(stageDir, 'model'));
    const { engine: _engine, nonFinite: _nonFinite, ...measured } = await evaluateModel(outIr, rc.data, evaluationWithin(config, outIr));
    const metrics: Metrics = { ...measured, bytes: await modelBytes(path.join(stageDir, modelJson)) };
    entry = { metrics, output: { ...outputs, modelJson, ...(output.verdict ? { verdict: stageVerdict } : {}) } };
    // Failed results are never cached: a rerun tries again.
    if (config.cacheDir) await writeCache(config.cacheDir, cacheKey, stageDir, outIr, entry, cacheLog);
  }
  // The gate is re-applied on every run, cached or not: it is cheap and keeps the verdict's wording current.
  const verdict = entry.output.verdict?.status === 'rejected' ? entry.output.verdict : gate(entry.metrics, budget, rc.quality?.metric ?? 'accuracy');
  const accepted = verdict.status === 'accepted';
  const report: StageReport = {
    name,
    status: verdict.status,
    ...(verdict.status === 'rejected' ? { reason: verdict.reason } : {}),
    seconds: (performance.now() - started) / 1000,
    onBudgetMiss: run.onBudgetMiss,
    cached: !!cached,
    metrics: entry.metrics,
    gate: stageGate(entry.metrics.valAccuracy, rc.data.validation.count, budget.floor, accepted),
    artifacts: artifactsOf(name, entry.output),
    options: run.options,
    budget: budgetReport(budget, rc.quality?.metric ?? 'accuracy'),
    details: entry.output.details,
    notes: entry.output.notes,
  };
  return {
    report,
    ir: accepted ? outIr : input.ir,
    metrics: accepted ? entry.metrics : input.metrics,
    exitClass: !accepted && run.onBudgetMiss === 'fail' ? 1 : 0,
    exports: exportsOf(name, entry.output),
  };
}

/** Paths relative to the report's folder, which always use '/'. */
function relativeTo(name: string, p: string): string {
  return path.posix.join(name, p.split(path.sep).join('/'));
}

function exportsOf(name: string, output: { exports?: Record<string, string> }): Record<string, string> {
  return Object.fromEntries(Object.entries(output.exports ?? {}).map(([format, p]) => [format, relativeTo(name, p)]));
}

/** The stage's files: its model, then its exports by format id. */
function artifactsOf(name: string, output: { modelJson?: string; exports?: Record<string, string> }): Record<string, string> {
  return { ...(output.modelJson ? { model: relativeTo(name, output.modelJson) } : {}), ...exportsOf(name, output) };
}

/** The budget gate: the run's quality metric on validation against the stage's floor. */
export function gate(metrics: Pick<Metrics, 'valAccuracy'>, budget: StageBudget, metric: QualitySetting['metric']): { status: 'accepted' | 'rejected'; reason?: string } {
  // A tiny tolerance so a bit-identical model is never rejected by float noise in the subtraction.
  if (metrics.valAccuracy >= budget.floor - 1e-9) return { status: 'accepted' };
  const allowance = budget.maxDrop === budget.total ? `maxAccuracyDrop ${budget.total}` : `${budget.maxDrop} of maxAccuracyDrop ${budget.total}, this stage's cumulative share`;
  return {
    status: 'rejected',
    reason: `${METRIC_NAMES[metric]} ${metrics.valAccuracy.toFixed(4)} is below the budget floor ${budget.floor.toFixed(4)} (baseline ${(budget.floor + budget.maxDrop).toFixed(4)} − ${allowance})`,
  };
}

/** What report.json says about the stage's budget. */
function budgetReport(b: StageBudget, metric: QualitySetting['metric']): StageReport['budget'] {
  return { share: b.share, maxAccuracyDrop: b.maxDrop, minValAccuracy: b.floor, metric };
}

function stageContext(run: StageRun, input: { ir: ModelIR; metrics: Metrics }, rc: StageRunContext, stageDir: string, budget: StageBudget): StageContext {
  return createStageContext({
    data: rc.data,
    seed: rc.config.seed,
    stageDir,
    inputMetrics: input.metrics,
    baseline: rc.baseline,
    budget,
    ...(rc.quality ? { quality: rc.quality } : {}),
    evaluation: rc.config.evaluation,
    memoryBudgetMB: rc.config.memoryBudgetMB,
    log: (message) => rc.log(`${run.stage.name}: ${message}`),
  });
}

/** The evaluation settings with the batch size kept within the memory budget for this model (see evaluationBatch). */
export function evaluationWithin(config: ResolvedConfig, ir: ModelIR): ResolvedConfig['evaluation'] {
  return { ...config.evaluation, batchSize: evaluationBatch(ir, config.evaluation.batchSize, config.memoryBudgetMB) };
}

function failed(
  run: StageRun, input: { ir: ModelIR; metrics: Metrics }, verdict: Extract<StageVerdict, { status: 'failed' }>, started: number,
  output: Partial<CacheEntry['output']> = {},
): StageResult {
  const report: StageReport = {
    name: run.stage.name,
    status: 'failed',
    reason: verdict.reason,
    seconds: (performance.now() - started) / 1000,
    onBudgetMiss: run.onBudgetMiss,
    cached: false,
    artifacts: artifactsOf(run.stage.name, output),
    options: run.options,
  };
  if (output.details) report.details = output.details;
  if (output.notes) report.notes = output.notes;
  return { report, ir: input.ir, metrics: input.metrics, exitClass: verdict.exitClass, failure: `${run.stage.name}: ${verdict.reason}`, exports: {} };
}
