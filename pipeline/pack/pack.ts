/**
 * `slimnet pack <run>`: a finished run's shipped artifacts as one deterministic `.tgz` — `manifest.json` (sha256 and
 * size of every file, tool version, source model sha256, data fingerprint, metrics, stages, preprocessing) first,
 * then a generated `MODEL_CARD.md`, then the artifacts under `<format>/`. Nothing in it depends on the machine or
 * the clock (timings stay in the run's report.json), so two runs that produced the same artifacts give the same
 * bytes. `slimnet verify` (verify.ts) re-checks it.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { SlimnetError } from '../errors.ts';
import { listModelFiles } from '../io/model-files.ts';
import { isClass } from '../layers/registry.ts';
import { readModel } from '../io/read-model.ts';
import type { Metrics } from '../metrics.ts';
import type { Report } from '../report.ts';
import { renderModelCard } from './model-card.ts';
import { isSafeRelativePath, writeTgz, type TarEntry } from './tar.ts';

export const MANIFEST_FILE = 'manifest.json';
export const MODEL_CARD_FILE = 'MODEL_CARD.md';
export const PACK_SCHEMA_VERSION = 1;

export interface PackedFile {
  path: string;
  size: number;
  sha256: string;
}

export interface Preprocessing {
  input: { name: string; shape: (number | null)[]; dtype: 'float32'; layout: string };
  /** x = raw · scale + offset, per value. */
  scale?: number;
  offset?: number;
  description: string;
}

export interface PackManifest {
  schemaVersion: number;
  name: string;
  tool: { name: string; version: string };
  source: { model: { path: string; sha256: string; format?: string } };
  data: { source: string; fingerprint: string; train: number; validation: number; test: number; sampleShape?: unknown; numClasses?: unknown };
  seed: number;
  budget: Report['budget'];
  stages: Array<{ name: string; status: string; reason?: string; options: Record<string, unknown> }>;
  /** Deterministic measurements only; latency is in the run's report.json (it depends on the machine). */
  metrics: { baseline: DeterministicMetrics; final: DeterministicMetrics; stages: Record<string, DeterministicMetrics> };
  formats: Record<string, string>;
  preprocessing: Preprocessing;
  files: PackedFile[];
}

export type DeterministicMetrics = Omit<Metrics, 'latencyMs' | 'latency'>;

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The metrics with any timing removed. */
export function withoutTimings(m: Metrics): DeterministicMetrics {
  const { latencyMs: _ms, latency: _l, ...rest } = m as Metrics & { latency?: unknown; latencyMs?: unknown };
  return rest;
}

function readReport(runDir: string): Report {
  const file = path.join(runDir, 'report.json');
  if (!existsSync(file)) {
    throw new SlimnetError('RUN_INVALID', runDir, 'has no report.json', 'pass the output folder of a slimnet compress run, e.g. artifacts/mnist-cnn');
  }
  let report: Report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  } catch (e) {
    throw new SlimnetError('RUN_INVALID', file, `is not valid JSON (${(e as Error).message})`, 're-run slimnet compress');
  }
  if ((report as { tool?: { name?: string } }).tool?.name !== 'slimnet' || !Array.isArray(report.stages)) {
    throw new SlimnetError('RUN_INVALID', file, 'is not a slimnet report', 'pass the output folder of a slimnet compress run');
  }
  return report;
}

/** Files of one artifact: a TF.js model.json with its shards, or the single file. Paths relative to the run folder. */
async function artifactFiles(runDir: string, artifact: string): Promise<string[]> {
  if (!isSafeRelativePath(artifact)) throw new SlimnetError('RUN_INVALID', `${runDir}/report.json`, `artifact path ${JSON.stringify(artifact)} leaves the run folder`);
  const abs = path.join(runDir, artifact);
  if (!existsSync(abs) || !statSync(abs).isFile()) {
    throw new SlimnetError('RUN_INVALID', abs, 'is named in report.json but missing', 're-run slimnet compress');
  }
  if (!artifact.endsWith('.json')) return [artifact];
  const { shards } = await listModelFiles(abs);
  const dir = path.posix.dirname(artifact);
  return [artifact, ...shards.flat().map((s) => path.posix.join(dir, s.manifestPath))];
}

/** What the shipped files are: the exports by format, or the last accepted stage's model when nothing was exported. */
function shippedArtifacts(report: Report): Record<string, string> {
  if (Object.keys(report.exports).length > 0) return report.exports;
  const last = [...report.stages].reverse().find((s) => s.status === 'accepted' && s.artifacts.model);
  if (!last) throw new SlimnetError('RUN_INVALID', 'report.json', 'the run has no accepted stage and no export: nothing to ship', 'add an export stage, or loosen the budget');
  return { model: last.artifacts.model! };
}

async function preprocessing(report: Report, modelJson: string): Promise<Preprocessing> {
  const ir = await readModel(modelJson);
  const input = ir.layers.find((l) => l.name === ir.inputs[0]);
  // The InputLayer's typed config holds a validated [batch, ...dims] shape (pipeline/layers/input.ts).
  const shape = input && isClass(input, 'InputLayer') ? input.config.batchInputShape.map((d) => d ?? null) : [];
  const data = report.data as Record<string, unknown>;
  const scale = typeof data.scale === 'number' ? data.scale : undefined;
  const offset = typeof data.offset === 'number' ? data.offset : undefined;
  const source = String(data.source);
  const description = scale !== undefined
    ? `x = raw · ${scale} + ${offset ?? 0}, per value`
    : source === 'idx' || source === 'mnist-package'
      ? '8-bit pixel values scaled to [0, 1] (x = pixel / 255), float32'
      : 'as the data.load() function of the config provided them (float32)';
  return {
    input: { name: input?.name ?? 'input', shape, dtype: 'float32', layout: shape.length === 4 ? 'NHWC' : 'as the model input' },
    ...(scale !== undefined ? { scale } : {}),
    ...(offset !== undefined ? { offset } : {}),
    description,
  };
}

export interface PackResult {
  tgz: Buffer;
  manifest: PackManifest;
}

/** Builds the pack of the run in `runDir` (a folder slimnet compress wrote). */
export async function buildPack(runDir: string): Promise<PackResult> {
  const report = readReport(runDir);
  const failed = report.stages.find((s) => s.status === 'failed');
  if (failed) throw new SlimnetError('RUN_FAILED', runDir, `stage ${failed.name} failed (${failed.reason ?? 'see report.json'})`, 'pack a run that completed');
  const shipped = shippedArtifacts(report);
  const entries: TarEntry[] = [];
  const formats: Record<string, string> = {};
  for (const [format, artifact] of Object.entries(shipped).sort(([a], [b]) => a.localeCompare(b))) {
    const files = await artifactFiles(runDir, artifact);
    const base = path.posix.dirname(artifact);
    for (const file of files) entries.push({ path: path.posix.join(format, path.posix.relative(base, file)), data: readFileSync(path.join(runDir, file)) });
    formats[format] = path.posix.join(format, path.posix.relative(base, artifact));
  }
  // The input layer is read from a shipped TF.js model, else from the last accepted stage's (always TF.js).
  const modelJson = Object.values(shipped).find((a) => a.endsWith('.json'))
    ?? [...report.stages].reverse().find((s) => s.status === 'accepted' && s.artifacts.model)?.artifacts.model;
  if (!modelJson) throw new SlimnetError('RUN_INVALID', 'report.json', 'no TF.js model in the run to read the input layer from', 'add tfjs to the export formats');
  const pre = await preprocessing(report, path.join(runDir, modelJson));
  // The run's own name (config `name`, target appended), so where the run folder sits does not change the bytes.
  const name = report.name ? `${report.name}${report.target ? `-${report.target}` : ''}` : path.basename(path.resolve(runDir));
  const card = renderModelCard({ name, report, formats, preprocessing: pre });
  entries.push({ path: MODEL_CARD_FILE, data: Buffer.from(card) });
  entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const manifest: PackManifest = {
    schemaVersion: PACK_SCHEMA_VERSION,
    name,
    tool: report.tool,
    source: { model: { path: path.posix.basename(report.model.path), sha256: report.model.sha256, ...((report.model as { format?: string }).format ? { format: (report.model as { format?: string }).format } : {}) } },
    data: {
      source: String(report.data.source), fingerprint: report.data.fingerprint, train: report.data.train, validation: report.data.validation, test: report.data.test,
      ...(report.data.sampleShape ? { sampleShape: report.data.sampleShape } : {}), ...(report.data.numClasses ? { numClasses: report.data.numClasses } : {}),
    },
    seed: report.seed,
    budget: report.budget,
    stages: report.stages.map((s) => ({ name: s.name, status: s.status, ...(s.reason ? { reason: s.reason } : {}), options: s.options })),
    metrics: {
      baseline: withoutTimings(report.baseline),
      final: withoutTimings(report.final),
      stages: Object.fromEntries(report.stages.filter((s) => s.metrics).map((s) => [s.name, withoutTimings(s.metrics!)])),
    },
    formats,
    preprocessing: pre,
    files: entries.map((e) => ({ path: e.path, size: e.data.length, sha256: sha256(e.data) })),
  };
  const manifestEntry = { path: MANIFEST_FILE, data: Buffer.from(JSON.stringify(manifest, null, 2) + '\n') };
  return { tgz: writeTgz([manifestEntry, ...entries]), manifest };
}
