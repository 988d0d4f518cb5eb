/**
 * Runs one stage: cache lookup, the stage itself in a scratch folder, writing its model, measuring it, and the
 * accuracy gate. A user-fixable failure (SlimnetError) becomes a 'failed' entry; a bug propagates.
 */
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
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
import type { Stage, StageContext, StageOutput, StageVerdict } from './stage.ts';
import { createStageContext, evaluationBatch } from './stage-context.ts';
import { toolBuildId } from './version.ts';

export interface StageRun {
  stage: Stage;
  options: Record<string, unknown>;
  onBudgetMiss: 'reject' | 'fail';
}

export interface StageRunContext {
  config: ResolvedConfig;
  data: DataSplits;
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

export async function runStage(run: StageRun, input: { ir: ModelIR; metrics: Metrics }, rc: StageRunContext): Promise<StageResult> {
  const started = performance.now();
  const name = run.stage.name;
  const stageDir = path.join(rc.runDir, name);
  await rm(stageDir, { recursive: true, force: true });
  await mkdir(stageDir, { recursive: true });
  const { config } = rc;
  const cacheKey = stageCacheKey({
    ir: input.ir,
    stage: name,
    options: run.options,
    dataFingerprint: rc.data.fingerprint,
    seed: config.seed,
    evaluation: config.evaluation,
    // Searching stages aim at the budget floor, so their output depends on it.
    budget: { maxAccuracyDrop: config.budget.maxAccuracyDrop, baselineValAccuracy: rc.baseline.valAccuracy },
    backend: rc.backend,
    toolVersion: toolBuildId(),
  });
  const cached = config.cacheDir ? await readCache(config.cacheDir, cacheKey, stageDir) : undefined;
  let entry: CacheEntry;
  let outIr: ModelIR;
  if (cached) {
    rc.log(`${name}: cached result (key ${cacheKey.slice(0, 12)})`);
    ({ entry, ir: outIr } = cached);
  } else {
    let output: StageOutput;
    try {
      output = await run.stage.run(input.ir, stageContext(run, input, rc, stageDir));
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
    const { engine: _engine, ...measured } = await evaluateModel(outIr, rc.data, evaluationWithin(config, outIr));
    const metrics: Metrics = { ...measured, bytes: await modelBytes(path.join(stageDir, modelJson)) };
    entry = { metrics, output: { ...outputs, modelJson, ...(output.verdict ? { verdict: stageVerdict } : {}) } };
    // Failed results are never cached: a rerun tries again.
    if (config.cacheDir) await writeCache(config.cacheDir, cacheKey, stageDir, outIr, entry);
  }
  // The gate is re-applied on every run, cached or not: it is cheap and keeps the verdict's wording current.
  const verdict = entry.output.verdict?.status === 'rejected' ? entry.output.verdict : gate(entry.metrics, rc, config.budget.maxAccuracyDrop);
  const accepted = verdict.status === 'accepted';
  const report: StageReport = {
    name,
    status: verdict.status,
    ...(verdict.status === 'rejected' ? { reason: verdict.reason } : {}),
    seconds: (performance.now() - started) / 1000,
    cached: !!cached,
    metrics: entry.metrics,
    artifacts: artifactsOf(name, entry.output),
    options: run.options,
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

function gate(metrics: Metrics, rc: StageRunContext, maxDrop: number): { status: 'accepted' | 'rejected'; reason?: string } {
  const floor = rc.baseline.valAccuracy - maxDrop;
  // A tiny tolerance so a bit-identical model is never rejected by float noise in the subtraction.
  if (metrics.valAccuracy >= floor - 1e-9) return { status: 'accepted' };
  return {
    status: 'rejected',
    reason: `validation accuracy ${metrics.valAccuracy.toFixed(4)} is below the budget floor ${floor.toFixed(4)} (baseline ${rc.baseline.valAccuracy.toFixed(4)} − maxAccuracyDrop ${maxDrop})`,
  };
}

function stageContext(run: StageRun, input: { ir: ModelIR; metrics: Metrics }, rc: StageRunContext, stageDir: string): StageContext {
  return createStageContext({
    data: rc.data,
    seed: rc.config.seed,
    stageDir,
    inputMetrics: input.metrics,
    baseline: rc.baseline,
    maxAccuracyDrop: rc.config.budget.maxAccuracyDrop,
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
    cached: false,
    artifacts: artifactsOf(run.stage.name, output),
    options: run.options,
  };
  if (output.details) report.details = output.details;
  if (output.notes) report.notes = output.notes;
  return { report, ir: input.ir, metrics: input.metrics, exitClass: verdict.exitClass, failure: `${run.stage.name}: ${verdict.reason}`, exports: {} };
}
