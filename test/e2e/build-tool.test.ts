/**
 * slimnet as a build tool, through the CLI, on a tiny CNN taken through every implemented stage (prune, separable,
 * quantize, export): two clean runs give byte-identical artifacts and identical metrics; an unchanged re-run is
 * replayed from the cache; changing one stage's options re-runs that stage only; packs are deterministic and
 * verified; targets and shards cover each target once; a killed run resumes from its last completed stage.
 *
 * Runs share their work: the two clean runs feed the cache, pack and target checks. Most go through the CLI in this
 * process (runCliInProcess: no process start, no tfjs reload); the kills need the real binary. Wall-time claims
 * (warm ≤ 5% of cold) are `npm run bench`'s, never assertions here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import { readTgz, writeTgz } from '../../pipeline/pack/tar.ts';
import type { Report } from '../../pipeline/report.ts';
import { runCliInProcess, runCliProcess } from '../fixtures/cli.ts';
import { writeTinyTask } from '../fixtures/tiny-task.ts';

const BIN = path.resolve('bin/slimnet.js');
let work: string;

async function slimnet(args: string[]) {
  return runCliInProcess(args, work);
}

async function compressJson(args: string[]): Promise<{ report: Report; stderr: string }> {
  const r = await slimnet(['compress', ...args, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

const FAST_LATENCY = "evaluation: { latency: { batchSizes: [1, 4], secondsPerBatch: 0.02, minRounds: 3, maxRounds: 10 } },";

function configText(exportOptions = "{ formats: ['tfjs', 'onnx'], latencyRuns: 3 }", stages?: string): string {
  return `export default {
  model: 'model/model.json',
  data: { source: 'idx', dir: 'data' },
  budget: { maxAccuracyDrop: 1 },
  ${FAST_LATENCY}
  stages: ${stages ?? `[
    { name: 'prune', options: { ratio: 0.5, search: false, fineTune: { epochs: 1, samples: 150 }, calibrationSamples: 32 } },
    { name: 'separable', options: { calibrationSamples: 32 } },
    // The default ONNX encoding (no timing-driven choice): two clean runs must ship the same bytes.
    { name: 'quantize', options: { latencyRuns: 2, activations: 'none' } },
    { name: 'export', options: ${exportOptions} },
  ]`},
};
`;
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-buildtool-'));
  const task = await writeTinyTask(work); // model/ (replaced below by a CNN) and data/ (6×6 IDX, 3 classes)
  await initEngine('wasm');
  const model = tf.sequential();
  const init = (seed: number) => tf.initializers.glorotUniform({ seed });
  model.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 4, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }));
  model.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: init(3) }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: init(4) }));
  const ir = await irFromTfjsModel(model);
  model.dispose();
  await writeModel(ir, path.dirname(task.modelJson));
  writeFileSync(path.join(work, 'slimnet.config.ts'), configText());
  // Two clean runs, each with its own cache and output folder: what the determinism, cache and pack tests compare.
  for (const n of ['a', 'b']) runs[n] = await compressJson(['--config', 'slimnet.config.ts', '--out', `out-${n}`, '--cache-dir', `cache-${n}`]);
});

const runs: Record<string, { report: Report; stderr: string }> = {};

/** sha256 of every file under `dir`, by relative path. */
function hashes(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const p = path.join(e.parentPath, e.name);
    out[path.relative(dir, p)] = createHash('sha256').update(readFileSync(p)).digest('hex');
  }
  return out;
}

/** report.json without its timings (seconds, latency, a stage's timings) and where it ran (cache folder). */
function withoutTimings(report: Report): unknown {
  const timed = ['seconds', 'latency', 'baselineLatency', 'timings', 'cache'];
  return JSON.parse(JSON.stringify(report, (key, value) => (timed.includes(key) ? undefined : value)));
}

const TIMED = new Set(['report.json', 'report.md', 'report.html']);
const entries = (cache: string) => readdirSync(path.join(work, cache)).filter((n) => /^[0-9a-f]{64}$/.test(n));

test('two clean runs (own cache, own output) through every stage give byte-identical artifacts and identical metrics', () => {
  const a = { ...runs.a!, files: hashes(path.join(work, 'out-a')) };
  const b = { ...runs.b!, files: hashes(path.join(work, 'out-b')) };
  // Captured (not a terminal): one plain line per event, no live display or colour.
  assert.doesNotMatch(a.stderr, /\x1b/);
  assert.match(a.stderr, /^\[ +[\d.]+s\] prune: running$/m);
  assert.deepEqual(a.report.stages.map((s) => [s.name, s.status, s.cached]),
    [['prune', 'accepted', false], ['separable', 'accepted', false], ['quantize', 'accepted', false], ['export', 'accepted', false]]);
  assert.ok(a.report.stages[0]!.metrics!.params < a.report.baseline.params, 'prune removed channels');
  const artifacts = Object.keys(a.files).filter((f) => !TIMED.has(f) && f !== '.slimnet.json');
  for (const f of ['export/onnx/model.onnx', 'prune/model/group1-shard1of1.bin', 'separable/model/model.json', 'quantize/onnx/model.onnx']) {
    assert.ok(artifacts.includes(f), `${f} in ${artifacts.join()}`);
  }
  for (const f of artifacts) assert.equal(b.files[f], a.files[f], f);
  assert.deepEqual(Object.keys(b.files).sort(), Object.keys(a.files).sort());
  assert.deepEqual(withoutTimings(b.report), withoutTimings(a.report));
  // Timings are reported, in their own fields: median and spread per batch size, and the ratio to the baseline.
  for (const l of [a.report.baselineLatency!, ...a.report.stages.map((s) => s.latency!)]) {
    assert.deepEqual(l.batches.map((x) => x.batchSize), [1, 4]);
    for (const x of l.batches) assert.ok(x.model.p25 <= x.model.median && x.model.median <= x.model.p75 && x.speedup > 0);
    // onnxruntime's Run timed directly, and the public API in the same rounds beside it (at least at the smallest
    // batch, where its per-call cost matters).
    assert.equal(l.method, 'ort-run');
    const smallest = l.batches[0]!;
    assert.ok(smallest.publicApi!.model.runs === smallest.model.runs && smallest.publicApi!.speedup > 0);
    // Not at batch 4: the same per-call cost, and a second session per model would double a large model's memory.
    assert.equal(l.batches[1]!.publicApi, undefined);
  }
  assert.equal(a.report.baselineLatency!.reference, 'itself');
  assert.ok((a.report.stages[3]!.timings as { latencyMs: Record<string, unknown> }).latencyMs.onnx, 'export times each artifact, in timings');
  assert.ok((a.report.stages[2]!.timings as { latency: unknown[] }).latency.length > 0, 'quantize times float against int8, in timings');
});

test('cache: an unchanged re-run is replayed; one stage\'s new options re-run it and what follows only; cache prune', async () => {
  // The memo is keyed by everything that feeds the run, --out included (the report's paths are relative to it).
  // Through the real binary: a replay is served in the CLI process, without the supervised child.
  const warm = runCliProcess(['compress', '--config', 'slimnet.config.ts', '--out', 'out-a', '--cache-dir', 'cache-a', '--json'], work);
  assert.equal(warm.code, 0, warm.stderr);
  assert.match(warm.stderr, /replayed from the cache \(run [0-9a-f]{12}\)/);
  const replayed = JSON.parse(warm.stdout) as Report;
  assert.deepEqual(replayed.cache, { dir: path.join(work, 'cache-a'), replayed: true });
  assert.ok(replayed.stages.every((s) => s.cached));
  assert.deepEqual(withoutTimings({ ...replayed, stages: replayed.stages.map((s) => ({ ...s, cached: false })) }), withoutTimings(runs.a!.report));
  assert.match(readFileSync(path.join(work, 'out-a/report.md'), 'utf8'), /accepted \(cached\)/);
  assert.deepEqual(hashes(path.join(work, 'out-a/export')), hashes(path.join(work, 'out-b/export')));

  writeFileSync(path.join(work, 'export-changed.config.ts'), configText("{ formats: ['tfjs', 'onnx'], latencyRuns: 3, minTop1Agreement: 0.99 }"));
  const { report: changed } = await compressJson(['--config', 'export-changed.config.ts', '--out', 'out-c', '--cache-dir', 'cache-a']);
  assert.deepEqual(changed.stages.map((s) => [s.name, s.cached]), [['prune', true], ['separable', true], ['quantize', true], ['export', false]]);
  assert.equal(changed.cache!.replayed, false);

  const pruned = await slimnet(['cache', 'prune', '--cache-dir', 'cache-a', '--all']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /removed 5 entries/);
  assert.deepEqual(entries('cache-a'), []);
});

test('pack: deterministic .tgz with manifest and model card; verify passes, and fails on one flipped shard byte', async () => {
  for (const [run, name] of [['out-a', 'p1.tgz'], ['out-a', 'p2.tgz'], ['out-b', 'p3.tgz']]) assert.equal((await slimnet(['pack', run!, '--out', name!])).code, 0);
  const p1 = readFileSync(path.join(work, 'p1.tgz'));
  assert.deepEqual(readFileSync(path.join(work, 'p2.tgz')), p1, 'the same run packs to the same bytes');
  assert.deepEqual(readFileSync(path.join(work, 'p3.tgz')), p1, 'two clean runs pack to the same bytes');
  const packed = readTgz(p1);
  assert.deepEqual(packed.map((e) => e.path), ['manifest.json', 'MODEL_CARD.md', 'onnx/model.onnx', 'tfjs/group1-shard1of1.bin', 'tfjs/model.json']);
  const manifest = JSON.parse(Buffer.from(packed[0]!.data).toString()) as { files: Array<{ path: string; sha256: string }>; source: { model: { sha256: string } }; data: { fingerprint: string }; preprocessing: unknown; stages: unknown[]; metrics: unknown; tool: unknown };
  assert.equal(manifest.files.length, 4);
  assert.ok(manifest.source.model.sha256 && manifest.data.fingerprint && manifest.preprocessing && manifest.stages.length === 4 && manifest.metrics && manifest.tool);
  assert.match(Buffer.from(packed[1]!.data).toString(), /## Accuracy against size[\s\S]*## Input preprocessing[\s\S]*## Intended use/);

  const ok = await slimnet(['verify', 'p1.tgz']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok — 4 files match/);

  const flipped = packed.map((e) => ({ path: e.path, data: Uint8Array.from(e.data) }));
  flipped.find((e) => e.path.endsWith('.bin'))!.data[7]! ^= 0x01;
  writeFileSync(path.join(work, 'flipped.tgz'), writeTgz(flipped));
  const bad = await slimnet(['verify', 'flipped.tgz']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /tfjs\/group1-shard1of1\.bin: sha256 \w+ does not match/);

  const corrupt = Buffer.from(p1);
  corrupt[Math.floor(corrupt.length / 2)]! ^= 0x10;
  writeFileSync(path.join(work, 'corrupt.tgz'), corrupt);
  assert.equal((await slimnet(['verify', 'corrupt.tgz'])).code, 1);
  assert.equal((await slimnet(['verify', 'missing.tgz'])).code, 2);
});

test('targets: compress runs all, --target one, --shard 1/2 and 2/2 cover each once; each in its own folder', async () => {
  writeFileSync(path.join(work, 'targets.config.ts'), configText(undefined, `[{ name: 'export', options: { formats: ['tfjs'], latencyRuns: 0 } }],
  targets: {
    web: { budget: { maxAccuracyDrop: 0.5 } },
    server: { stages: [{ name: 'export', options: { formats: ['onnx'], latencyRuns: 0 } }] },
  }`));
  const run = async (...extra: string[]) => {
    const r = await slimnet(['compress', '--config', 'targets.config.ts', '--out', 'tgt', '--cache-dir', 'cache-t', '--json', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    const reports = (JSON.parse(r.stdout) as { targets: Record<string, Report> }).targets;
    return Object.entries(reports).map(([name, report]) => `${name}${report.cache?.replayed ? ' (replayed)' : ''}`);
  };
  assert.deepEqual((await run()).sort(), ['server', 'web']);
  // The same inputs again: each target replays from its memo (cache reusable across invocations and machines).
  assert.deepEqual(await run('--target', 'web'), ['web (replayed)']);
  assert.deepEqual([...(await run('--shard', '1/2')), ...(await run('--shard', '2/2'))].sort(), ['server (replayed)', 'web (replayed)']);
  assert.deepEqual((await run('--concurrency', '2')).sort(), ['server (replayed)', 'web (replayed)']);
  const web = JSON.parse(readFileSync(path.join(work, 'tgt/web/report.json'), 'utf8')) as Report;
  const server = JSON.parse(readFileSync(path.join(work, 'tgt/server/report.json'), 'utf8')) as Report;
  assert.deepEqual([web.target, Object.keys(web.exports)], ['web', ['tfjs']]);
  assert.deepEqual([server.target, Object.keys(server.exports)], ['server', ['onnx']]);
  assert.equal(web.budget.maxAccuracyDrop, 0.5);
  assert.equal(server.budget.maxAccuracyDrop, 1);
  const unknown = await slimnet(['compress', '--config', 'targets.config.ts', '--target', 'desktop']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--target: no target named "desktop" \(targets in targets\.config\.ts: server, web\)/);
});

test('a run killed mid-stage (SIGKILL, SIGINT) leaves no torn entry, and the next run resumes after the last completed stage', async () => {
  // prune → export: killed once export has started, so prune's entry is complete and export's is not.
  writeFileSync(path.join(work, 'kill.config.ts'), configText("{ formats: ['tfjs', 'onnx'], latencyRuns: 3 }", `[
    { name: 'prune', options: { ratio: 0.5, search: false, fineTune: false, calibrationSamples: 32 } },
    { name: 'export', options: { formats: ['tfjs', 'onnx'], latencyRuns: 3 } },
  ]`));
  // SIGKILL: nobody forwards it, the child must notice its lost supervisor; SIGINT: forwarded, and the child stops
  // itself (SIGTERM takes the same path; interrupt.test.ts times both). Side by side, each with its own cache and output.
  const signals = ['SIGKILL', 'SIGINT'] as const;
  await Promise.all(signals.map(async (signal) => {
    const args = [BIN, 'compress', '--config', 'kill.config.ts', '--out', `out-kill-${signal}`, '--cache-dir', `cache-kill-${signal}`];
    const child = spawn(process.execPath, args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    const killedAt = await new Promise<string>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`never reached export: ${seen}`)), 120_000);
      child.stderr!.on('data', (d) => {
        seen += d;
        if (/export: running/.test(seen)) {
          clearTimeout(timer);
          child.kill(signal);
          resolve(seen);
        }
      });
      child.on('exit', () => reject(new Error(`exited before export started: ${seen}`)));
    });
    await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.on('exit', resolve)));
    assert.match(killedAt, /prune: accepted/);
  }));
  // A supervisor killed outright leaves its child to notice the lost channel and clean up: give it a moment.
  await new Promise((resolve) => setTimeout(resolve, 500));
  for (const signal of signals) {
    const cache = `cache-kill-${signal}`;
    assert.equal(existsSync(path.join(work, `out-kill-${signal}`)), false, `${signal}: nothing half-written at --out`);
    for (const name of entries(cache)) assert.ok(existsSync(path.join(work, cache, name, 'entry.json')), `${signal}: entry ${name} is complete`);
    assert.deepEqual(readdirSync(path.join(work, cache)).filter((n) => n.startsWith('.tmp-')), [], `${signal}: no temporary entry left`);
    const { report } = await compressJson(['--config', 'kill.config.ts', '--out', `out-kill-${signal}`, '--cache-dir', cache]);
    assert.deepEqual(report.stages.map((s) => [s.name, s.status, s.cached]), [['prune', 'accepted', true], ['export', 'accepted', false]], `${signal}: prune resumed from the cache`);
  }
});
