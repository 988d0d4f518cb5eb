/**
 * runPipeline: load → baseline → stages (each measured and gated) → report. The run is assembled in a
 * scratch folder beside --out and swapped into place at the end, so bad input or a crash never leaves a
 * half-written artifacts folder.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { STAGES } from '../stages/index.ts';
import { formatPath, type ResolvedConfig } from './config.ts';
import { isClass } from './layers/registry.ts';
import { loadData } from './data/load-data.ts';
import { defaultRunName } from './load-config.ts';
import { initEngine } from './engine.ts';
import { SlimnetError } from './errors.ts';
import { evaluateModel } from './evaluate.ts';
import { loadModel } from './io/load-model.ts';
import { checkOutFolder, prepareCacheFolder, RunFolder } from './io/output-folder.ts';
import { inferShapes } from './graph/shapes.ts';
import { findLayer, type ModelIR } from './ir.ts';
import type { Metrics } from './metrics.ts';
import { renderMarkdown, REPORT_SCHEMA_VERSION, type Report, type StageReport } from './report.ts';
import { evaluationWithin, runStage, type StageRun } from './run-stage.ts';
import { TOOL } from './version.ts';

export interface PipelineResult {
  report: Report;
  outDir: string;
  /** The worst of the stages' exit classes: 0 success; 1 a requirement not met (a budget miss on a stage with onBudgetMiss 'fail', a failed export); 2 bad input. */
  exitCode: 0 | 1 | 2;
  /** The stage failure, if any, as one line (`<stage>: <reason>`; the CLI prints it). */
  failure?: string;
}

export interface RunOptions {
  /** Progress lines (stage start/end, stage logs). */
  log?: (message: string) => void;
  /** Replace --out even when it holds files slimnet did not write (only ever a folder slimnet created). */
  force?: boolean;
}

/** Validates every stage's options before any work is done. */
export function resolveStages(config: ResolvedConfig, source = 'config'): StageRun[] {
  return config.stages.map((entry, i) => {
    const definition = STAGES[entry.name];
    if (!definition) {
      throw new SlimnetError('STAGE_UNKNOWN', `${source}: stages[${i}]`, `stage "${entry.name}" is not implemented in slimnet ${TOOL.version}`,
        `available: ${Object.keys(STAGES).join(', ')}`);
    }
    const parsed = definition.options.safeParse(entry.options);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const key = formatPath(['stages', i, 'options', ...issue.path]);
      const message = issue.code === 'unrecognized_keys' ? `unknown option ${issue.keys.map((k) => `"${k}"`).join(', ')}` : issue.message;
      throw new SlimnetError('CONFIG_INVALID', `${source}: ${key}`, message, `see the README for the ${entry.name} stage's options`);
    }
    const options = parsed.data as Record<string, unknown>;
    return { stage: definition.create(options), options, onBudgetMiss: entry.onBudgetMiss };
  });
}

export async function runPipeline(config: ResolvedConfig, opts: RunOptions = {}): Promise<PipelineResult> {
  const log = opts.log ?? (() => {});
  const started = performance.now();
  const stageRuns = resolveStages(config);
  // loadConfig always sets out; a config validated directly (library use) gets the same default, from the cwd.
  const outDir = config.out ?? path.resolve('artifacts', config.name ?? defaultRunName(config.model));
  // Where the run may write is settled before any work: a refused --out costs nothing and touches nothing.
  const guards = { model: config.model, dataDir: config.data.source === 'idx' ? config.data.dir : undefined };
  checkOutFolder(outDir, { ...guards, cacheDir: config.cacheDir }, opts.force);
  if (config.cacheDir) prepareCacheFolder(config.cacheDir, { ...guards, out: outDir });
  const folder = await RunFolder.begin(outDir);
  const runDir = folder.dir;
  try {
    const backend = await initEngine(config.backend);
    const model = await loadModel(config.model);
    const ir = model.ir;
    for (const note of model.notes) log(`model: ${note}`);
    const data = await loadData(config.data, {
      validationFraction: config.validationFraction,
      seed: config.seed,
      inputShape: modelInputShape(ir),
      limit: config.evaluation.limit,
      outputClasses: modelOutputClasses(ir),
    });
    log(`model ${config.model} (${model.format}${model.kerasVersion ? `, Keras ${model.kerasVersion}` : ''}): ${ir.layers.length} layers; data ${data.train.count}/${data.validation.count}/${data.test.count} train/validation/test; backend ${backend}`);
    const { engine: evaluationEngine, ...measured } = await evaluateModel(ir, data, evaluationWithin(config, ir));
    const baseline: Metrics = { ...measured, bytes: model.bytes };
    log(`baseline: ${describeMetrics(baseline)}`);
    const stageReports: StageReport[] = [];
    let current = { ir, metrics: baseline };
    let failure: string | undefined;
    let exitCode: 0 | 1 | 2 = 0;
    // Exports of accepted stages by format id; a later stage's export of a format replaces an earlier one's.
    const exports: Record<string, string> = {};
    for (const run of stageRuns) {
      if (failure) {
        stageReports.push({ name: run.stage.name, status: 'skipped', reason: 'an earlier stage failed', seconds: 0, cached: false, artifacts: {}, options: run.options });
        continue;
      }
      log(`${run.stage.name}: running`);
      const result = await runStage(run, current, { config, data, backend, baseline, runDir, log });
      stageReports.push(result.report);
      log(`${run.stage.name}: ${result.report.status}${result.report.metrics ? ` — ${describeMetrics(result.report.metrics)}` : ''}${result.report.reason ? ` — ${result.report.reason}` : ''}`);
      failure ??= result.failure;
      exitCode = Math.max(exitCode, result.exitClass) as 0 | 1 | 2;
      if (result.report.status === 'accepted') Object.assign(exports, result.exports);
      current = { ir: result.ir, metrics: result.metrics };
    }
    const report: Report = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      tool: TOOL,
      model: { path: relativePath(outDir, config.model), format: model.format, sha256: model.sha256, fileBytes: model.fileBytes, ...(model.kerasVersion ? { kerasVersion: model.kerasVersion } : {}) },
      data: { ...data.describe, fingerprint: data.fingerprint, train: data.train.count, validation: data.validation.count, test: data.test.count },
      budget: { maxAccuracyDrop: config.budget.maxAccuracyDrop, minValAccuracy: baseline.valAccuracy - config.budget.maxAccuracyDrop },
      engine: { backend, evaluation: evaluationEngine },
      seed: config.seed,
      baseline,
      stages: stageReports,
      final: current.metrics,
      exports,
      seconds: (performance.now() - started) / 1000,
    };
    await writeFile(path.join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    const renderers = Object.fromEntries(Object.entries(STAGES).map(([name, d]) => [name, d?.renderDetails?.bind(d)]));
    await writeFile(path.join(runDir, 'report.md'), renderMarkdown(report, renderers));
    await folder.commit(() => checkOutFolder(outDir, { ...guards, cacheDir: config.cacheDir }, opts.force));
    return { report, outDir, exitCode, failure };
  } finally {
    await folder.abort();
  }
}

/** The model's input shape without the batch dimension. */
export function modelInputShape(ir: ModelIR): (number | null)[] {
  if (ir.inputs.length !== 1) {
    throw new SlimnetError('MODEL_INVALID', `model "${ir.name}"`, `the model has ${ir.inputs.length} inputs; slimnet supports single-input models`, 'export a single-input model');
  }
  const input = findLayer(ir, ir.inputs[0]!);
  // The InputLayer's typed config has a validated [batch, ...positive integers or null] shape (pipeline/layers/input.ts).
  if (!isClass(input, 'InputLayer')) throw new SlimnetError('MODEL_INVALID', `layer "${input.name}"`, 'the model input is not an InputLayer', 'save the model with an input layer');
  return input.config.batchInputShape.slice(1);
}

/** Values per sample of the model's (single) output: the number of classes labels must stay below. */
export function modelOutputClasses(ir: ModelIR): number {
  if (ir.outputs.length !== 1) {
    throw new SlimnetError('MODEL_INVALID', `model "${ir.name}"`, `the model has ${ir.outputs.length} outputs; slimnet supports single-output classifiers`, 'export a single-output model');
  }
  const shape = inferShapes(ir).get(ir.outputs[0]!)!;
  return shape.reduce((a, b) => a * b, 1);
}

/** Report paths are relative to the report's folder and always use '/'. */
function relativePath(from: string, to: string): string {
  return path.relative(from, to).split(path.sep).join('/');
}

export function describeMetrics(m: Metrics): string {
  return `val ${(m.valAccuracy * 100).toFixed(2)}%, test ${(m.testAccuracy * 100).toFixed(2)}%, ${m.params.toLocaleString('en-US')} params, ${m.bytes.toLocaleString('en-US')} bytes, ${m.macs.toLocaleString('en-US')} MACs, ${m.latencyMs.toFixed(3)} ms`;
}
