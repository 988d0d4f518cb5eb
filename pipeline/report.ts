/**
 * report.json is a stable contract (CI scripts and release tooling read it; schema in the README).
 * Bump REPORT_SCHEMA_VERSION on any breaking change.
 */
import type { Metrics } from './metrics.ts';
import { METRIC_NAMES, type QualityMetricId, type QualitySetting } from './quality.ts';
import { verdictLine } from './report-verdict.ts';

export const REPORT_SCHEMA_VERSION = 1;

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
  /** Files the stage produced, relative to the report's folder. */
  artifacts: Record<string, string>;
  options: Record<string, unknown>;
  /**
   * The stage's part of the budget: its share of the pipeline's maxAccuracyDrop, the drop from the baseline it was
   * allowed (the pipeline budget × the shares of it and every stage before it) and the floor that gated it.
   */
  budget?: { share: number; maxAccuracyDrop: number; minValAccuracy: number; metric: QualityMetricId };
  details?: Record<string, unknown>;
  notes?: string[];
}

export interface Report {
  schemaVersion: number;
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
  engine: { backend: string; evaluation: string };
  seed: number;
  baseline: Metrics;
  stages: StageReport[];
  final: Metrics;
  /** Artifacts of accepted stages by export format id (`tfjs`, `onnx`, …), relative to the report's folder. */
  exports: Record<string, string>;
  seconds: number;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const num = (v: number) => v.toLocaleString('en-US');

function metricsRow(label: string, status: string, m: Metrics | undefined): string {
  if (!m) return `| ${label} | ${status} | – | – | – | – | – | – |`;
  return `| ${label} | ${status} | ${pct(m.valAccuracy)} | ${pct(m.testAccuracy)} | ${num(m.params)} | ${num(m.bytes)} | ${num(m.macs)} | ${m.latencyMs.toFixed(3)} |`;
}

/** The quality columns' names per metric. */
const COLUMN: Record<QualityMetricId, string> = { accuracy: 'acc', agreement: 'agreement', 'relative-mse': '1 − rel. MSE' };

export type DetailsRenderer = (details: Record<string, unknown>) => string[];

/** The human-readable twin of report.json; `renderers` add each stage's own section from its details. */
export function renderMarkdown(report: Report, renderers: Record<string, DetailsRenderer | undefined> = {}): string {
  const lines = [
    `# slimnet: ${verdictLine(report)}`,
    ``,
    `Model \`${report.model.path}\` (${report.model.format}, sha256 ${report.model.sha256.slice(0, 12)}…), data ${report.data.train}/${report.data.validation}/${report.data.test} train/validation/test samples, seed ${report.seed}.`,
    `Budget: ${METRIC_NAMES[report.budget.metric]} may drop at most ${pct(report.budget.maxAccuracyDrop)} (floor ${pct(report.budget.minValAccuracy)}). tfjs backend: ${report.engine.backend}; measured on ${report.engine.evaluation}.`,
    ``,
    `| step | status | val ${COLUMN[report.budget.metric]} | test ${COLUMN[report.budget.metric]} | params | bytes | MACs | latency ms |`,
    `|---|---|---|---|---|---|---|---|`,
    metricsRow('baseline', '', report.baseline),
    ...report.stages.map((s) => metricsRow(s.name, s.status + (s.cached ? ' (cached)' : ''), s.metrics)),
    metricsRow('**final**', '', report.final),
    ``,
  ];
  for (const s of report.stages) {
    if (s.reason) lines.push(`- **${s.name}** ${s.status}: ${s.reason}`);
    for (const note of s.notes ?? []) lines.push(`- ${s.name}: ${note}`);
  }
  for (const s of report.stages) {
    const render = renderers[s.name];
    if (render && s.details && s.status !== 'failed') lines.push('', `## ${s.name}`, '', ...render(s.details));
  }
  const exports = Object.entries(report.exports);
  if (exports.length) lines.push('', '## Exports', ...exports.map(([f, p]) => `- ${f}: \`${p}\``));
  return lines.join('\n') + '\n';
}
