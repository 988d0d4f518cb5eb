/**
 * runPipeline: load → baseline → stages (each measured and gated) → report. The run is assembled in a
 * scratch folder beside --out and swapped into place at the end, so bad input or a crash never leaves a
 * half-written artifacts folder.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { STAGES } from '../stages/index.ts';
import { splitBudget } from './budget.ts';
import { createPredictor } from './evaluate.ts';
import { labelWithTeacher, METRIC_NAMES, resolveQuality, type QualitySetting } from './quality.ts';
import { formatPath, type ResolvedConfig } from './config.ts';
import { isClass, withConfig } from './layers/registry.ts';
import { loadData } from './data/load-data.ts';
import { defaultRunName } from './load-config.ts';
import { initEngine } from './engine.ts';
import { SlimnetError } from './errors.ts';
import { evaluateModel } from './evaluate.ts';
import { loadModel, type LoadedModel } from './io/load-model.ts';
import { checkOutFolder, prepareCacheFolder, protectedPaths, RunFolder } from './io/output-folder.ts';

export { protectedPaths } from './io/output-folder.ts';
import type { DataSplits } from './data/types.ts';
import { inferShapes } from './graph/shapes.ts';
import { findLayer, type ModelIR } from './ir.ts';
import type { Metrics } from './metrics.ts';
import { renderMarkdown, REPORT_SCHEMA_VERSION, type DetailsRenderer, type Report, type StageReport } from './report.ts';
import { renderHtml } from './report-html/render.ts';
import { tryReplay } from './cache/replay.ts';
import { runMemoKey, writeRunMemo } from './cache/run-memo.ts';
import { describeLatency, measureLatency } from './measure/model-latency.ts';
import { validationReport } from './report-validation.ts';
import { modelSignature } from './signature.ts';
import { evaluationWithin, runStage, type StageRun } from './run-stage.ts';
import { lineSink, withProgress, type ProgressSink } from './progress/events.ts';
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
  /** Progress lines (stage start/end, stage logs); ignored when `progress` is given. */
  log?: (message: string) => void;
  /** Structured progress (the CLI's live display): lines, stage starts, stage activity, steps with counts. */
  progress?: ProgressSink;
  /** Replace --out even when it holds files slimnet did not write (only ever a folder slimnet created). */
  force?: boolean;
}

/** Validates every stage's options and splits the budget over the stages, before any work is done. */
export function resolveStages(config: ResolvedConfig, source = 'config'): StageRun[] {
  const runs = config.stages.map((entry, i) => {
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
      const retired = issue.code === 'unrecognized_keys' ? issue.keys.map((k) => definition.retiredOptions?.[k]).find(Boolean) : undefined;
      throw new SlimnetError('CONFIG_INVALID', `${source}: ${key}`, message, retired ?? `see the README for the ${entry.name} stage's options`);
    }
    const options = parsed.data as Record<string, unknown>;
    return { stage: definition.create(options), options, onBudgetMiss: entry.onBudgetMiss, changesAccuracy: definition.changesAccuracy };
  });
  const splits = splitBudget(config.stages.map((entry, i) => ({ ...entry, changesAccuracy: runs[i]!.changesAccuracy })), source);
  return runs.map(({ changesAccuracy: _, ...run }, i) => ({ ...run, budget: splits[i]! }));
}

/**
 * The engine, the model, the data split for it and the run's quality metric (with the teacher's labels when the
 * labels come from the input model): what a run (and a dry run) needs before the baseline.
 */
export async function loadInputs(config: ResolvedConfig, log: (message: string) => void = () => {}): Promise<{ backend: string; model: LoadedModel; data: DataSplits; quality: QualitySetting }> {
  const backend = await initEngine(config.backend);
  // Each phase says so: an interrupt reports the last line as where the run stopped.
  log(`reading the model ${config.model}`);
  const model = await loadModel(config.model);
  log(`loading data (${config.data.source === 'idx' ? config.data.dir : config.data.source})`);
  const loaded = await loadData(config.data, {
    validationFraction: config.validationFraction,
    // The data selection has its own seed: --seed re-draws the stages' random choices, never the validation split.
    seed: config.validationSeed,
    inputShape: modelInputShape(model.ir),
    limit: config.evaluation.limit,
    // A regress model's outputs are not classes: there are no labels to check against them.
    outputClasses: config.task === 'classify' ? (sampleShape) => modelOutputClasses(withDataInputShape(model.ir, sampleShape)) : undefined,
  });
  const quality = resolveQuality(config.task, config.labels, loaded.labelled ?? true);
  const bound = { ...model, ir: withDataInputShape(model.ir, loaded.train.sampleShape, log) };
  const data = await withTeacherLabels(loaded, quality, bound.ir, evaluationWithin(config, bound.ir));
  return { backend, model: bound, data, quality };
}

/**
 * A model input with free dimensions (a text model's `Input(shape=(None,))`, a fully convolutional net's [null, null,
 * 3]) takes the data's sample shape, which loadData fitted to it: shape inference, the exports and their runtimes
 * need every size, and the data fix them for this run.
 */
export function withDataInputShape(ir: ModelIR, sampleShape: number[], log: (message: string) => void = () => {}): ModelIR {
  const free = modelInputShape(ir);
  if (free.every((d) => d !== null)) return ir;
  const input = findLayer(ir, ir.inputs[0]!);
  if (!isClass(input, 'InputLayer')) return ir;
  log(`model input "${input.name}": free dimensions [${free.map((d) => d ?? 'null')}] set to the data's [${sampleShape}]`);
  const bound = withConfig(input, { batchInputShape: [null, ...sampleShape] });
  return { ...ir, layers: ir.layers.map((l) => (l === input ? bound : l)) };
}

export async function runPipeline(config: ResolvedConfig, opts: RunOptions = {}): Promise<PipelineResult> {
  const progress = opts.progress ?? lineSink(opts.log);
  const log = progress.line;
  const started = performance.now();
  const stageRuns = resolveStages(config);
  // loadConfig always sets out; a config validated directly (library use) gets the same default, from the cwd.
  const outDir = config.out ?? path.resolve('artifacts', config.name ?? defaultRunName(config.model));
  const replayed = await tryReplay({ ...config, out: outDir }, { force: opts.force, log });
  if (replayed) return replayed;
  // Where the run may write is settled before any work: a refused --out costs nothing and touches nothing.
  const guards = protectedPaths(config);
  checkOutFolder(outDir, { ...guards, cacheDir: config.cacheDir }, opts.force);
  if (config.cacheDir) prepareCacheFolder(config.cacheDir, { ...guards, out: outDir });
  const folder = await RunFolder.begin(outDir);
  const runDir = folder.dir;
  try {
    const { backend, model, data, quality } = await loadInputs(config, progress.activity);
    const ir = model.ir;
    for (const note of model.notes) log(`model: ${note}`);
    if (quality.labels === 'teacher') log(`quality: ${METRIC_NAMES[quality.metric]} (labels from the input model)`);
    log(`model ${config.model} (${model.format}${model.kerasVersion ? `, Keras ${model.kerasVersion}` : ''}): ${ir.layers.length} layers; data ${data.train.count}/${data.validation.count}/${data.test.count} train/validation/test; backend ${backend}`);
    log('measuring the baseline');
    const { engine: evaluationEngine, nonFinite, ...measured } = await evaluateModel(ir, data, evaluationWithin(config, ir));
    if (nonFinite) throw overflowingModel(config.model, ir, nonFinite);
    const baseline: Metrics = { ...measured, bytes: model.bytes };
    log(`baseline: ${describeMetrics(baseline)}`);
    const validation = validationReport(data, baseline, config.budget.maxAccuracyDrop);
    if (validation.warning) log(`warning: ${validation.warning}`);
    // Against a second copy of itself: what noise alone does to a ratio on this machine, right now.
    log('measuring the baseline latency');
    const baselineLatency = await measureLatency(ir, ir, data.test, config.evaluation.engine, config.evaluation.latency);
    log(`baseline: latency ${describeLatency(baselineLatency)}`);
    const stageReports: StageReport[] = [];
    let current = { ir, metrics: baseline };
    let failure: string | undefined;
    let exitCode: 0 | 1 | 2 = 0;
    // Exports of accepted stages by format id; a later stage's export of a format replaces an earlier one's.
    const exports: Record<string, string> = {};
    for (const [index, run] of stageRuns.entries()) {
      if (failure) {
        stageReports.push({ name: run.stage.name, status: 'skipped', reason: 'an earlier stage failed', seconds: 0, onBudgetMiss: run.onBudgetMiss, cached: false, artifacts: {}, options: run.options });
        continue;
      }
      progress.stage(run.stage.name, index + 1, stageRuns.length);
      progress.activity(`${run.stage.name}: running`);
      const rc = { config, data, quality, backend, baseline, baselineIr: ir, runDir, log, activity: progress.activity };
      const result = await withProgress(progress, () => runStage(run, current, rc));
      stageReports.push(result.report);
      log(`${run.stage.name}: ${result.report.status}${result.report.metrics ? ` — ${describeMetrics(result.report.metrics)}` : ''}${result.report.reason ? ` — ${result.report.reason}` : ''}`);
      failure ??= result.failure;
      exitCode = Math.max(exitCode, result.exitClass) as 0 | 1 | 2;
      if (result.report.status === 'accepted') Object.assign(exports, result.exports);
      current = { ir: result.ir, metrics: result.metrics };
    }
    const report: Report = {
      schemaVersion: REPORT_SCHEMA_VERSION,
      ok: exitCode === 0,
      exitCode,
      ...(config.name ? { name: config.name } : {}),
      ...(config.target ? { target: config.target } : {}),
      tool: TOOL,
      model: { path: relativePath(outDir, config.model), format: model.format, sha256: model.sha256, fileBytes: model.fileBytes, ...(model.kerasVersion ? { kerasVersion: model.kerasVersion } : {}) },
      data: { ...data.describe, fingerprint: data.fingerprint, train: data.train.count, validation: data.validation.count, test: data.test.count },
      quality,
      budget: { metric: quality.metric, maxAccuracyDrop: config.budget.maxAccuracyDrop, minValAccuracy: baseline.valAccuracy - config.budget.maxAccuracyDrop },
      validation,
      signature: modelSignature(current.ir, data.describe),
      engine: { backend, evaluation: evaluationEngine },
      seed: config.seed,
      baseline,
      baselineLatency,
      stages: stageReports,
      final: current.metrics,
      exports,
      seconds: (performance.now() - started) / 1000,
      cache: { dir: config.cacheDir ?? false, replayed: false },
    };
    await writeFile(path.join(runDir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    const renderers = Object.fromEntries(Object.entries(STAGES).map(([name, d]) => [name, d?.renderDetails?.bind(d)]));
    await writeFile(path.join(runDir, 'report.md'), renderMarkdown(report, renderers));
    await writeFile(path.join(runDir, 'report.html'), renderHtml(report));
    if (config.cacheDir && !failure) await memoise({ ...config, out: outDir }, report, renderers, exitCode as 0 | 1);
    await folder.commit(() => checkOutFolder(outDir, { ...guards, cacheDir: config.cacheDir }, opts.force));
    return { report, outDir, exitCode, failure };
  } finally {
    await folder.abort();
  }
}

/** For a fidelity metric, the splits labelled by the input model (the teacher), on the evaluation engine. */
async function withTeacherLabels(data: DataSplits, quality: QualitySetting, ir: ModelIR, evaluation: ResolvedConfig['evaluation']): Promise<DataSplits> {
  if (quality.labels !== 'teacher') return data;
  const teacher = await createPredictor(ir, evaluation.engine);
  try {
    return await labelWithTeacher(data, quality, teacher, evaluation.batchSize);
  } finally {
    teacher.dispose();
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
  const fidelity = m.fidelity ? ` (relative MSE ${m.fidelity.valRelativeMse.toExponential(2)}, PSNR ${m.fidelity.valPsnr === null ? '∞' : `${m.fidelity.valPsnr.toFixed(1)} dB`})` : '';
  return `val ${(m.valAccuracy * 100).toFixed(2)}%${fidelity}, test ${(m.testAccuracy * 100).toFixed(2)}%, ${m.params.toLocaleString('en-US')} params, ${m.bytes.toLocaleString('en-US')} bytes, ${m.macs.toLocaleString('en-US')} MACs`;
}

/** Records the completed run so an identical next run replays it (pipeline/cache/run-memo.ts). */
async function memoise(config: ResolvedConfig, report: Report, renderers: Record<string, DetailsRenderer | undefined>, exitCode: 0 | 1): Promise<void> {
  const key = runMemoKey(config);
  if (!key || !config.cacheDir) return;
  const stageKeys = Object.fromEntries(report.stages.filter((s) => s.cacheKey).map((s) => [s.name, s.cacheKey!]));
  const sections = Object.fromEntries(report.stages.flatMap((s) => {
    const render = renderers[s.name];
    return render && s.details && s.status !== 'failed' ? [[s.name, render(s.details)]] : [];
  }));
  await writeRunMemo(config.cacheDir, key, { report, sections, stageKeys, exitCode });
}

/** A model whose outputs on the user's data are NaN/Infinity although every weight is finite (loading checks that): its weights overflow float32. */
function overflowingModel(modelPath: string, ir: ModelIR, at: { split: string; sample: number }): SlimnetError {
  let largest = 0;
  for (const l of ir.layers) for (const w of l.weights) for (const v of w.values) largest = Math.max(largest, Math.abs(v));
  return new SlimnetError('MODEL_INVALID', modelPath,
    `computes NaN or Infinity for ${at.split} sample ${at.sample}: its weights are finite but overflow float32 on this data (largest |weight| ${largest.toPrecision(3)})`,
    'the weights are corrupt or the training diverged; retrain or export the model again, and check the data preprocessing (data.scale)');
}
