/**
 * `npm run bench`'s prune rows: for the bundled example, the residual net (examples/fashion-resnet) and a
 * MobileNetV2 at 224×224×3 (bench/mobilenet-v2.ts), one cold pipeline run with only the `prune` stage in a child
 * process under `/usr/bin/time -v` (peak RSS, wall time), and from its report: params, MACs, accuracy, the stage's
 * phase times, and the runner's latency of the output against the baseline (onnxruntime, 1 thread, batch 1 and 32,
 * interleaved medians) before → after. The machine's load average is recorded at the start and the end of each
 * run: the machine is shared, and timings mean little without it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Report } from '../pipeline/report.ts';
import type { PruneBenchModel } from './prune-child.ts';
import { fashionMnistAvailable } from './images.ts';

const ROOT = resolve(import.meta.dirname, '..');
const TIME = '/usr/bin/time';
/** Where the trained MobileNetV2 is kept between bench runs (its training takes minutes): `$SLIMNET_BENCH_FIXTURES` or the package cache. */
export const MOBILENET_FIXTURE_DIR = join(process.env.SLIMNET_BENCH_FIXTURES ?? join(ROOT, 'node_modules', '.cache', 'slimnet-bench'), 'mobilenet-v2');

export interface PruneRow {
  model: PruneBenchModel;
  status: string;
  wallSeconds: number;
  stageSeconds: number;
  peakRssMB: number;
  /** 1-minute load average when the run started and ended. */
  load: [number, number];
  params: [number, number];
  macs: [number, number];
  valAccuracy: [number, number];
  testAccuracy: [number, number];
  /** Seconds of the stage's phases (its timings.phases) and of the stage's run as a whole. */
  phases: Record<string, number>;
  /** onnxruntime (1 thread) median ms, before → after, and the speed-up. */
  latency: { batchSize: number; before: number; after: number; speedup: number }[];
}

function runChild(args: string[], log: (line: string) => void): Promise<{ code: number | null; stderr: string }> {
  const timed = existsSync(TIME);
  const [cmd, cmdArgs] = timed ? [TIME, ['-v', process.execPath, '--import', 'tsx', ...args]] : [process.execPath, ['--import', 'tsx', ...args]];
  return new Promise((done, fail) => {
    const child = spawn(cmd, cmdArgs, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => process.stderr.write(d));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of d.toString().split('\n')) if (line.startsWith('[') || line.startsWith('mobilenet fixture')) log(line);
    });
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

/** "Maximum resident set size (kbytes): N" from time -v, in MB. */
export function peakRssFromTime(stderr: string): number {
  const m = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr);
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

export async function benchPrune(model: PruneBenchModel, log: (line: string) => void): Promise<PruneRow | { model: PruneBenchModel; skipped: string }> {
  if (model !== 'example' && !fashionMnistAvailable()) return { model, skipped: 'needs Debian\'s dataset-fashion-mnist (apt-get install dataset-fashion-mnist)' };
  const dir = mkdtempSync(join(tmpdir(), `slimnet-prune-bench-${model}-`));
  try {
    if (model === 'mobilenet') {
      log(`mobilenet: the trained MobileNetV2 input (built once into ${MOBILENET_FIXTURE_DIR}; not timed)...`);
      const prep = await runChild(['bench/prune-child.ts', 'prepare-mobilenet', MOBILENET_FIXTURE_DIR], log);
      if (prep.code !== 0) throw new Error(`preparing the MobileNetV2 input failed:\n${prep.stderr.slice(-2000)}`);
    }
    const load0 = loadavg()[0]!;
    const started = performance.now();
    const run = await runChild(['bench/prune-child.ts', 'run', model, dir, ...(model === 'mobilenet' ? [MOBILENET_FIXTURE_DIR] : [])], log);
    const wallSeconds = (performance.now() - started) / 1000;
    const load1 = loadavg()[0]!;
    const reportPath = join(dir, 'out', 'report.json');
    if (!existsSync(reportPath)) throw new Error(`the ${model} prune run wrote no report (exit ${run.code}):\n${run.stderr.slice(-2000)}`);
    const report = JSON.parse(readFileSync(reportPath, 'utf8')) as Report;
    const stage = report.stages.find((s) => s.name === 'prune')!;
    // The runner's latency of the stage's output against the baseline (its input here), interleaved on the
    // evaluation engine; it differs run to run, so it is not in details.
    const latency = (stage.latency?.batches ?? []).map((b) => ({ batchSize: b.batchSize, before: b.reference.median, after: b.model.median, speedup: b.speedup }));
    const after = stage.metrics ?? report.baseline;
    return {
      model, status: stage.status, wallSeconds, stageSeconds: stage.seconds, peakRssMB: peakRssFromTime(run.stderr), load: [load0, load1],
      params: [report.baseline.params, after.params], macs: [report.baseline.macs, after.macs],
      valAccuracy: [report.baseline.valAccuracy, after.valAccuracy], testAccuracy: [report.baseline.testAccuracy, after.testAccuracy],
      latency,
      phases: { ...((stage.timings as { phases?: Record<string, number> } | undefined)?.phases ?? {}) },
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export function pruneTable(rows: (PruneRow | { model: PruneBenchModel; skipped: string })[]): string[] {
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  const n = (v: number) => v.toLocaleString('en-US');
  const lines = ['| prune | status | wall | stage | stage phases | peak RSS | params | MACs | val acc | test acc | ORT latency b1 (ms) | ORT latency b32 (ms) | load |', '|---|---|---|---|---|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    if ('skipped' in r) {
      lines.push(`| ${r.model} | skipped: ${r.skipped} ||||||||||||`);
      continue;
    }
    const lat = (b: number) => {
      const l = r.latency.find((x) => x.batchSize === b);
      return l ? `${l.before.toFixed(2)} → ${l.after.toFixed(2)} (${l.speedup.toFixed(2)}×)` : 'n/a';
    };
    const phases = Object.entries(r.phases).filter(([, s]) => s >= 0.5).map(([p, s]) => `${p} ${s.toFixed(0)}`).join(', ') || 'n/a';
    lines.push(`| ${r.model} | ${r.status} | ${r.wallSeconds.toFixed(0)} s | ${r.stageSeconds.toFixed(0)} s | ${phases} | ${r.peakRssMB.toFixed(0)} MB | ${n(r.params[0])} → ${n(r.params[1])} (${(r.params[0] / r.params[1]).toFixed(2)}×) | ` +
      `${n(r.macs[0])} → ${n(r.macs[1])} (${(r.macs[0] / r.macs[1]).toFixed(2)}×) | ${pct(r.valAccuracy[0])} → ${pct(r.valAccuracy[1])} | ${pct(r.testAccuracy[0])} → ${pct(r.testAccuracy[1])} | ${lat(1)} | ${lat(32)} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`);
  }
  return lines;
}
