/**
 * report.json is a stable contract (CI scripts and release tooling read it; schema in the README).
 * Bump REPORT_SCHEMA_VERSION on any breaking change.
 */
import type { LatencyReport } from './measure/model-latency.ts';
import type { Metrics } from './metrics.ts';
import { METRIC_NAMES } from './metric-names.ts';
import type { QualityMetricId, QualitySetting } from './quality.ts';
import type { StageGate, ValidationReport } from './report-validation.ts';
import { verdictLine } from './report-verdict.ts';
import type { ModelSignature } from './signature.ts';
import { describeSignature } from './signature-text.ts';

/** 2: `latencyMs` left the metrics (which are now all deterministic) for `latency` / `baselineLatency`. */
export const REPORT_SCHEMA_VERSION = 2;

export type StageStatus = 'accepted' | 'rejected' | 'skipped' | 'failed';

export interface StageReport {
  name: string;
  status: StageStatus;
  /** Why a stage was rejected, skipped or failed. */
  reason?: string;
  seconds: number;
  /** What a budget miss of this stage does: 'reject' hands its input on; 'fail' also makes the run exit 1. */
  onBudgetMiss: 'reject' | 'fail';
  /** True when the result came from the artifact cache instead of running the stage. */
  cached: boolean;
  /** Metrics of the stage's output model (absent when the stage failed). */
  metrics?: Metrics;
  /** The output model timed interleaved with the baseline (a timing: differs run to run, unlike `metrics`). */
  latency?: LatencyReport;
  /** The stage's cache entry key (absent when the stage failed). */
  cacheKey?: string;
  /** The budget gate on its validation accuracy, with the 95% Wilson interval (absent when the stage failed). */
  gate?: StageGate;
  /** Files the stage produced, relative to the report's folder. */
  artifacts: Record<string, string>;
  options: Record<string, unknown>;
  /**
   * The stage's part of the budget: its share of the pipeline's maxAccuracyDrop, the drop from the baseline it was
   * allowed (the pipeline budget × the shares of it and every stage before it) and the floor that gated it.
   */
  budget?: { share: number; maxAccuracyDrop: number; minValAccuracy: number; metric: QualityMetricId };
  details?: Record<string, unknown>;
  /** The stage's run-to-run varying figures (e.g. export: each artifact's latency in its runtime); never in `details`. */
  timings?: Record<string, unknown>;
  notes?: string[];
}

export interface Report {
  schemaVersion: number;
  /** The run's name and, for a config with targets, the target. */
  name?: string;
  target?: string;
  /** exitCode === 0: every stage ran, and no requirement was missed. */
  ok: boolean;
  /** The process's exit code for this run: 0 ok, 1 a requirement not met, 2 bad input (e.g. a layer a stage cannot handle). */
  exitCode: 0 | 1 | 2;
  tool: { name: string; version: string };
  model: {
    path: string;
    /** What the input was: 'tfjs-layers' (model.json), 'keras' (.keras archive), 'keras-folder' (unzipped .keras), 'keras-h5' (legacy .h5). */
    format: string;
    /** sha256 over the input's files. */
    sha256: string;
    /** Bytes of the input's files on disk (baseline.bytes is the model's size as TF.js, like every stage's). */
    fileBytes: number;
    kerasVersion?: string;
  };
  data: Record<string, unknown> & { fingerprint: string; train: number; validation: number; test: number };
  /** The task, where labels came from, and the metric every gate compared (valAccuracy holds it). */
  quality: QualitySetting;
  budget: { metric: QualityMetricId; maxAccuracyDrop: number; minValAccuracy: number };
  /** The validation set the gates measured on: size, origin, the baseline's interval, a warning if the budget is within it. */
  validation: ValidationReport;
  /** How to call the model the run hands on: input name/shape/layout/dtype/scaling, output meaning. */
  signature: ModelSignature;
  engine: { backend: string; evaluation: string };
  seed: number;
  baseline: Metrics;
  /** The baseline timed against a copy of itself: its speed-up shows how far noise alone moves a ratio here. */
  baselineLatency?: LatencyReport;
  stages: StageReport[];
  final: Metrics;
  /** Artifacts of accepted stages by export format id (`tfjs`, `onnx`, …), relative to the report's folder. */
  exports: Record<string, string>;
  seconds: number;
  /** How the run used the cache: its folder (or false), and whether the whole run was replayed from it. */
  cache?: { dir: string | false; replayed: boolean };
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const num = (v: number) => v.toLocaleString('en-US');

/** `0.102 ms ×2.41` per batch size: median and speed-up against the baseline. */
export function latencySummary(l: LatencyReport | undefined): string {
  if (!l) return '–';
  return l.batches.map((b) => `b${b.batchSize} ${b.model.median.toFixed(3)} ms ×${b.speedup.toFixed(2)}`).join(', ');
}

/** The shipped model's latency: the last accepted stage's, or the baseline's. */
function finalLatency(report: Report): LatencyReport | undefined {
  return [...report.stages].reverse().find((s) => s.status === 'accepted')?.latency ?? report.baselineLatency;
}

/** What the latency figures time, and the final model through onnxruntime-node's public API beside them. */
function timedWhat(l: LatencyReport | undefined): string {
  if (!l || l.method === 'predict') return '';
  if (l.method === 'public-api') return ` Timed through onnxruntime-node's public API (\`await session.run()\`): ${l.refused ?? 'its binding was not used'}.`;
  const api = l.batches.filter((b) => b.publicApi).map((b) => `b${b.batchSize} ${b.publicApi!.model.median.toFixed(3)} ms ×${b.publicApi!.speedup.toFixed(2)}`);
  return ` Timed: onnxruntime's Run through onnxruntime-node's native binding, called synchronously.` +
    (api.length ? ` Through its public API (\`await session.run()\`, one event-loop turn more per call), the final model: ${api.join(', ')}.` : '');
}

function metricsRow(label: string, status: string, m: Metrics | undefined, l?: LatencyReport): string {
  if (!m) return `| ${label} | ${status} | – | – | – | – | – | – |`;
  return `| ${label} | ${status} | ${pct(m.valAccuracy)} | ${pct(m.testAccuracy)} | ${num(m.params)} | ${num(m.bytes)} | ${num(m.macs)} | ${latencySummary(l)} |`;
}

/** The quality columns' names per metric. */
const COLUMN: Record<QualityMetricId, string> = { accuracy: 'acc', agreement: 'agreement', 'relative-mse': '1 − rel. MSE' };

function timingNotes(timings: Record<string, unknown> | undefined): string[] {
  const notes = timings?.notes;
  return Array.isArray(notes) ? notes.filter((n): n is string => typeof n === 'string') : [];
}

export type DetailsRenderer = (details: Record<string, unknown>, timings?: Record<string, unknown>) => string[];

/** The human-readable twin of report.json; `renderers` add each stage's own section from its details. */
export function renderMarkdown(report: Report, renderers: Record<string, DetailsRenderer | undefined> = {}): string {
  const lines = [
    `# slimnet: ${verdictLine(report)}`,
    ``,
    `Model \`${report.model.path}\` (${report.model.format}, sha256 ${report.model.sha256.slice(0, 12)}…), data ${report.data.train}/${report.data.validation}/${report.data.test} train/validation/test samples, seed ${report.seed}.`,
    `Budget: ${METRIC_NAMES[report.budget.metric]} may drop at most ${pct(report.budget.maxAccuracyDrop)} (floor ${pct(report.budget.minValAccuracy)}). tfjs backend: ${report.engine.backend}; measured on ${report.engine.evaluation}.`,
    validationLine(report),
    ...(report.validation.warning ? [``, `**Warning:** ${report.validation.warning}.`] : []),
    ``,
    `| step | status | val ${COLUMN[report.budget.metric]} | test ${COLUMN[report.budget.metric]} | params | bytes | MACs | latency: median, speed-up vs baseline |`,
    `|---|---|---|---|---|---|---|---|`,
    metricsRow('baseline', '', report.baseline, report.baselineLatency),
    ...report.stages.map((s) => metricsRow(s.name, s.status + (s.cached ? ' (cached)' : ''), s.metrics, s.latency)),
    metricsRow('**final**', '', report.final, finalLatency(report)),
    ``,
    `Latency: each model interleaved with the baseline in one process (A B A B …), median per batch size; ×N = median over rounds of baseline time ÷ model time (> 1 is faster).` +
      (report.baselineLatency ? ` The baseline against a copy of itself: ${report.baselineLatency.batches.map((b) => `b${b.batchSize} ×${b.speedup.toFixed(3)}`).join(', ')} (noise).` : '') +
      timedWhat(finalLatency(report)),
    ``,
  ];
  for (const s of report.stages) {
    if (s.reason) lines.push(`- **${s.name}** ${s.status}: ${s.reason}`);
    // Notes drawn from timings (e.g. an int8 artifact slower than float) live in `timings.notes`: they differ run to run.
    for (const note of [...(s.notes ?? []), ...timingNotes(s.timings)]) lines.push(`- ${s.name}: ${note}`);
  }
  const gated = report.stages.filter((s) => s.gate);
  if (gated.length) {
    lines.push('', '## Gates', '', `Validation accuracy with its 95% Wilson interval (n = ${num(report.validation.size)}) against the floor:`, '',
      '| step | val acc | 95% interval | floor | decision |', '|---|---|---|---|---|');
    for (const s of gated) {
      const g = s.gate!;
      const decision = `${g.passed ? 'passed' : 'missed'}${g.closeCall ? ' (close call: the floor is inside the interval)' : ''}`;
      lines.push(`| ${s.name} | ${pct(g.valAccuracy)} | ${pct(g.low)}–${pct(g.high)} | ${pct(g.floor)} | ${decision} |`);
    }
  }
  for (const s of report.stages) {
    const render = renderers[s.name];
    if (render && s.details && s.status !== 'failed') lines.push('', `## ${s.name}`, '', ...render(s.details, s.timings));
  }
  lines.push('', '## Using the model', '', '```', ...describeSignature(report.signature), '```');
  const exports = Object.entries(report.exports);
  if (exports.length) {
    lines.push('', 'Exports (each takes the input above and gives the output above; the README\'s "Use your export" shows the code):',
      ...exports.map(([f, p]) => `- ${f}: \`${p}\``));
  }
  return lines.join('\n') + '\n';
}

function validationLine(report: Report): string {
  const v = report.validation;
  const source = v.source.kind === 'carved'
    ? `carved from the training data (${pct(v.source.fraction)}, validationSeed ${v.source.seed})`
    : v.source.kind === 'separate' ? `a separate held-out set (${v.source.dir ?? v.source.source})` : 'of unknown origin';
  return `Validation: ${num(v.size)} samples ${source}; baseline ${pct(v.baseline.valAccuracy)}, 95% Wilson interval ${pct(v.baseline.low)}–${pct(v.baseline.high)} (±${(v.baseline.halfWidth * 100).toFixed(2)} pt).`;
}
