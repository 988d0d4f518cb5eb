/**
 * report.json is a stable contract (CI scripts and release tooling read it; schema in the README).
 * Bump REPORT_SCHEMA_VERSION on any breaking change.
 */
import type { LatencyReport } from './measure/model-latency.ts';
import type { Metrics } from './metrics.ts';
import { METRIC_NAMES, type QualityMetricId, type QualitySetting } from './quality.ts';

/** 2: `latencyMs` left the metrics (which are now all deterministic) for `latency` / `baselineLatency`. */
export const REPORT_SCHEMA_VERSION = 2;

export type StageStatus = 'accepted' | 'rejected' | 'skipped' | 'failed';

export interface StageReport {
  name: string;
  status: StageStatus;
  /** Why a stage was rejected, skipped or failed. */
  reason?: string;
  seconds: number;
  /** True when the result came from the artifact cache instead of running the stage. */
  cached: boolean;
  /** Metrics of the stage's output model (absent when the stage failed). */
  metrics?: Metrics;
  /** The output model timed interleaved with the baseline (a timing: differs run to run, unlike `metrics`). */
  latency?: LatencyReport;
  /** The stage's cache entry key (absent when the stage failed). */
  cacheKey?: string;
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

function metricsRow(label: string, status: string, m: Metrics | undefined, l?: LatencyReport): string {
  if (!m) return `| ${label} | ${status} | – | – | – | – | – | – |`;
  return `| ${label} | ${status} | ${pct(m.valAccuracy)} | ${pct(m.testAccuracy)} | ${num(m.params)} | ${num(m.bytes)} | ${num(m.macs)} | ${latencySummary(l)} |`;
}

/** The quality columns' names per metric. */
const COLUMN: Record<QualityMetricId, string> = { accuracy: 'acc', agreement: 'agreement', 'relative-mse': '1 − rel. MSE' };

export type DetailsRenderer = (details: Record<string, unknown>, timings?: Record<string, unknown>) => string[];

/** The human-readable twin of report.json; `renderers` add each stage's own section from its details. */
export function renderMarkdown(report: Report, renderers: Record<string, DetailsRenderer | undefined> = {}): string {
  const lines = [
    `# slimnet report`,
    ``,
    `Model \`${report.model.path}\` (${report.model.format}, sha256 ${report.model.sha256.slice(0, 12)}…), data ${report.data.train}/${report.data.validation}/${report.data.test} train/validation/test samples, seed ${report.seed}.`,
    `Budget: ${METRIC_NAMES[report.budget.metric]} may drop at most ${pct(report.budget.maxAccuracyDrop)} (floor ${pct(report.budget.minValAccuracy)}). tfjs backend: ${report.engine.backend}; measured on ${report.engine.evaluation}.`,
    ``,
    `| step | status | val ${COLUMN[report.budget.metric]} | test ${COLUMN[report.budget.metric]} | params | bytes | MACs | latency: median, speed-up vs baseline |`,
    `|---|---|---|---|---|---|---|---|`,
    metricsRow('baseline', '', report.baseline, report.baselineLatency),
    ...report.stages.map((s) => metricsRow(s.name, s.status + (s.cached ? ' (cached)' : ''), s.metrics, s.latency)),
    metricsRow('**final**', '', report.final, [...report.stages].reverse().find((s) => s.status === 'accepted')?.latency ?? report.baselineLatency),
    ``,
    `Latency: each model interleaved with the baseline in one process (A B A B …), median per batch size; ×N = median over rounds of baseline time ÷ model time (> 1 is faster).` +
      (report.baselineLatency ? ` The baseline against a copy of itself: ${report.baselineLatency.batches.map((b) => `b${b.batchSize} ×${b.speedup.toFixed(3)}`).join(', ')} (noise).` : ''),
    ``,
  ];
  for (const s of report.stages) {
    if (s.reason) lines.push(`- **${s.name}** ${s.status}: ${s.reason}`);
    for (const note of s.notes ?? []) lines.push(`- ${s.name}: ${note}`);
  }
  for (const s of report.stages) {
    const render = renderers[s.name];
    if (render && s.details && s.status !== 'failed') lines.push('', `## ${s.name}`, '', ...render(s.details, s.timings));
  }
  const exports = Object.entries(report.exports);
  if (exports.length) lines.push('', '## Exports', ...exports.map(([f, p]) => `- ${f}: \`${p}\``));
  return lines.join('\n') + '\n';
}
