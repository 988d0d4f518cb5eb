/**
 * slimnet as a build tool, through the CLI, on a small CNN taken through every implemented stage (prune, export):
 * two clean runs give byte-identical artifacts and identical metrics; an unchanged re-run is replayed from the
 * cache; changing one stage's options re-runs that stage only; packs are deterministic and verified; targets and
 * shards cover each target once; a killed run resumes from its last completed stage.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
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
import { writeTinyTask } from '../fixtures/tiny-task.ts';

const BIN = path.resolve('bin/slimnet.js');
let work: string;
let configFile: string;

function slimnet(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: work, encoding: 'utf8', timeout: 240_000, env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function configText(extra = '', exportOptions = "{ formats: ['tfjs', 'onnx'] }"): string {
  return `export default {
  model: 'model/model.json',
  data: { source: 'idx', dir: 'data' },
  budget: { maxAccuracyDrop: 1 },
  evaluation: { latency: { batchSizes: [1, 4], secondsPerBatch: 0.05, minRounds: 3, maxRounds: 20 } },
  stages: [
    { name: 'prune', options: { ratio: 0.5, search: false, fineTune: { epochs: 1, samples: 600 }, calibrationSamples: 32 } },
    { name: 'export', options: ${exportOptions} },
  ],${extra}
};
`;
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-buildtool-'));
  const task = await writeTinyTask(work); // model/ (replaced below by a CNN) and data/ (6×6 IDX, 3 classes)
  await initEngine('wasm');
  const model = tf.sequential();
  model.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 8, kernelSize: 3, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }));
  model.add(tf.layers.flatten());
  model.add(tf.layers.dense({ units: 12, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }));
  model.add(tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }));
  const ir = await irFromTfjsModel(model);
  model.dispose();
  await writeModel(ir, path.dirname(task.modelJson));
  configFile = path.join(work, 'slimnet.config.ts');
  writeFileSync(configFile, configText());
});

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

test('two clean runs (own cache, own output) give byte-identical artifacts and identical metrics', () => {
  const runs = ['a', 'b'].map((n) => {
    const r = slimnet(['compress', '--config', configFile, '--out', `out-${n}`, '--cache-dir', `cache-${n}`, '--json']);
    assert.equal(r.code, 0, r.stderr);
    // Piped: one plain line per event, no live display or colour.
    assert.doesNotMatch(r.stderr, /\x1b/);
    assert.match(r.stderr, /^\[ +[\d.]+s\] prune: running$/m);
    return { report: JSON.parse(r.stdout) as Report, files: hashes(path.join(work, `out-${n}`)) };
  });
  const [a, b] = runs as [typeof runs[0], typeof runs[0]];
  assert.deepEqual(a.report.stages.map((s) => [s.name, s.status, s.cached]), [['prune', 'accepted', false], ['export', 'accepted', false]]);
  assert.ok(a.report.stages[0]!.metrics!.params < a.report.baseline.params, 'prune removed channels');
  const artifacts = Object.keys(a.files).filter((f) => !TIMED.has(f) && f !== '.slimnet.json');
  assert.ok(artifacts.includes('export/onnx/model.onnx') && artifacts.includes('prune/model/group1-shard1of1.bin'), artifacts.join());
  for (const f of artifacts) assert.equal(b.files[f], a.files[f], f);
  assert.deepEqual(Object.keys(b.files).sort(), Object.keys(a.files).sort());
  assert.deepEqual(withoutTimings(b.report), withoutTimings(a.report));
  // Timings are reported, in their own fields: median and spread per batch size, and the ratio to the baseline.
  for (const l of [a.report.baselineLatency!, a.report.stages[0]!.latency!]) {
    assert.deepEqual(l.batches.map((x) => x.batchSize), [1, 4]);
    for (const x of l.batches) assert.ok(x.model.p25 <= x.model.median && x.model.median <= x.model.p75 && x.speedup > 0);
  }
  assert.equal(a.report.baselineLatency!.reference, 'itself');
  assert.ok((a.report.stages[1]!.timings as { latencyMs: Record<string, unknown> }).latencyMs.onnx, 'export times each artifact, in timings');
});

test('cache: an unchanged re-run is replayed; one stage\'s new options re-run it and what follows only; --no-cache', () => {
  const args = ['compress', '--config', configFile, '--out', 'out-c', '--cache-dir', 'cache-c', '--json'];
  const cold = JSON.parse(slimnet(args).stdout) as Report;
  const warm = slimnet(args);
  assert.equal(warm.code, 0, warm.stderr);
  const replayed = JSON.parse(warm.stdout) as Report;
  assert.deepEqual(replayed.cache, { dir: path.join(work, 'cache-c'), replayed: true });
  assert.ok(replayed.stages.every((s) => s.cached));
  assert.deepEqual(withoutTimings({ ...replayed, stages: replayed.stages.map((s) => ({ ...s, cached: false })) }), withoutTimings(cold));
  assert.match(readFileSync(path.join(work, 'out-c/report.md'), 'utf8'), /accepted \(cached\)/);
  assert.deepEqual(hashes(path.join(work, 'out-c/export')), hashes(path.join(work, 'out-a/export')));

  writeFileSync(path.join(work, 'export-only-onnx.config.ts'), configText('', "{ formats: ['tfjs', 'onnx'], minTop1Agreement: 0.99 }"));
  const changed = JSON.parse(slimnet(['compress', '--config', 'export-only-onnx.config.ts', '--out', 'out-c', '--cache-dir', 'cache-c', '--json']).stdout) as Report;
  assert.deepEqual(changed.stages.map((s) => [s.name, s.cached]), [['prune', true], ['export', false]]);
  assert.equal(changed.cache!.replayed, false);

  const none = slimnet(['compress', '--config', configFile, '--out', 'out-d', '--no-cache', '--cache-dir', 'cache-d', '--json']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal((JSON.parse(none.stdout) as Report).cache!.dir, false);
  assert.equal(existsSync(path.join(work, 'cache-d')), false);

  const pruned = slimnet(['cache', 'prune', '--cache-dir', 'cache-c', '--all']);
  assert.equal(pruned.code, 0, pruned.stderr);
  assert.match(pruned.stdout, /removed 3 entries/);
  assert.deepEqual(readdirSync(path.join(work, 'cache-c')).filter((n) => /^[0-9a-f]{64}$/.test(n)), []);
});

test('pack: deterministic .tgz with manifest and model card; verify passes, and fails on one flipped shard byte', () => {
  for (const name of ['p1.tgz', 'p2.tgz']) assert.equal(slimnet(['pack', 'out-a', '--out', name]).code, 0);
  assert.equal(slimnet(['pack', 'out-b', '--out', 'p3.tgz']).code, 0);
  const p1 = readFileSync(path.join(work, 'p1.tgz'));
  assert.deepEqual(readFileSync(path.join(work, 'p2.tgz')), p1, 'the same run packs to the same bytes');
  assert.deepEqual(readFileSync(path.join(work, 'p3.tgz')), p1, 'two clean runs pack to the same bytes');
  const entries = readTgz(p1);
  assert.deepEqual(entries.map((e) => e.path), ['manifest.json', 'MODEL_CARD.md', 'onnx/model.onnx', 'tfjs/group1-shard1of1.bin', 'tfjs/model.json']);
  const manifest = JSON.parse(Buffer.from(entries[0]!.data).toString()) as { files: Array<{ path: string; sha256: string }>; source: { model: { sha256: string } }; data: { fingerprint: string }; preprocessing: unknown; stages: unknown[]; metrics: unknown; tool: unknown };
  assert.equal(manifest.files.length, 4);
  assert.ok(manifest.source.model.sha256 && manifest.data.fingerprint && manifest.preprocessing && manifest.stages.length === 2 && manifest.metrics && manifest.tool);
  assert.match(Buffer.from(entries[1]!.data).toString(), /## Accuracy against size[\s\S]*## Input preprocessing[\s\S]*## Intended use/);

  const ok = slimnet(['verify', 'p1.tgz']);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /ok — 4 files match/);

  const flipped = entries.map((e) => ({ path: e.path, data: Uint8Array.from(e.data) }));
  flipped.find((e) => e.path.endsWith('.bin'))!.data[7]! ^= 0x01;
  writeFileSync(path.join(work, 'flipped.tgz'), writeTgz(flipped));
  const bad = slimnet(['verify', 'flipped.tgz']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /tfjs\/group1-shard1of1\.bin: sha256 \w+ does not match/);

  const corrupt = Buffer.from(p1);
  corrupt[Math.floor(corrupt.length / 2)]! ^= 0x10;
  writeFileSync(path.join(work, 'corrupt.tgz'), corrupt);
  assert.equal(slimnet(['verify', 'corrupt.tgz']).code, 1);
  assert.equal(slimnet(['verify', 'missing.tgz']).code, 2);
});

test('targets: compress runs all, --target one, --shard 1/2 and 2/2 cover each once; each in its own folder', () => {
  const targets = `
  targets: {
    web: { budget: { maxAccuracyDrop: 0.5 }, stages: [{ name: 'export', options: { formats: ['tfjs'] } }] },
    server: { stages: [{ name: 'export', options: { formats: ['onnx'] } }] },
  },`;
  writeFileSync(path.join(work, 'targets.config.ts'), configText(targets));
  const run = (...extra: string[]) => {
    const r = slimnet(['compress', '--config', 'targets.config.ts', '--out', 'tgt', '--cache-dir', 'cache-t', '--json', ...extra]);
    assert.equal(r.code, 0, r.stderr);
    return Object.keys((JSON.parse(r.stdout) as { targets: Record<string, Report> }).targets);
  };
  assert.deepEqual(run('--target', 'web'), ['web']);
  assert.deepEqual(run('--shard', '1/2').concat(run('--shard', '2/2')).sort(), ['server', 'web']);
  assert.deepEqual(run('--concurrency', '2').sort(), ['server', 'web']);
  const web = JSON.parse(readFileSync(path.join(work, 'tgt/web/report.json'), 'utf8')) as Report;
  const server = JSON.parse(readFileSync(path.join(work, 'tgt/server/report.json'), 'utf8')) as Report;
  assert.deepEqual([web.target, Object.keys(web.exports)], ['web', ['tfjs']]);
  assert.deepEqual([server.target, Object.keys(server.exports)], ['server', ['onnx']]);
  assert.equal(web.budget.maxAccuracyDrop, 0.5);
  assert.equal(server.budget.maxAccuracyDrop, 1);
  const unknown = slimnet(['compress', '--config', 'targets.config.ts', '--target', 'desktop']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--target: no target named "desktop" \(targets in targets\.config\.ts: server, web\)/);
});

test('a run killed mid-stage (SIGKILL, SIGTERM, SIGINT) leaves no torn entry, and the next run resumes after the last completed stage', async () => {
  for (const signal of ['SIGKILL', 'SIGTERM', 'SIGINT'] as const) {
    const cache = `cache-kill-${signal}`;
    const args = [BIN, 'compress', '--config', configFile, '--out', `out-kill-${signal}`, '--cache-dir', cache];
    const child = spawn(process.execPath, args, { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
    const killedAt = await new Promise<string>((resolve, reject) => {
      let seen = '';
      const timer = setTimeout(() => reject(new Error(`never reached export: ${seen}`)), 180_000);
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
    assert.equal(existsSync(path.join(work, `out-kill-${signal}`)), false, `${signal}: nothing half-written at --out`);
    for (const name of readdirSync(path.join(work, cache)).filter((n) => /^[0-9a-f]{64}$/.test(n))) {
      assert.ok(existsSync(path.join(work, cache, name, 'entry.json')), `${signal}: entry ${name} is complete`);
    }
    const again = slimnet(['compress', '--config', configFile, '--out', `out-kill-${signal}`, '--cache-dir', cache, '--json']);
    assert.equal(again.code, 0, again.stderr);
    const report = JSON.parse(again.stdout) as Report;
    assert.equal(report.stages[0]!.cached, true, `${signal}: prune resumed from the cache`);
    assert.equal(report.stages[1]!.status, 'accepted');
    assert.deepEqual(hashes(path.join(work, `out-kill-${signal}/export`)), hashes(path.join(work, 'out-a/export')));
  }
});
