/**
 * End-to-end through the CLI on a uint8 model, saved the way `tensorflowjs_converter --quantize_uint8` writes the
 * bundled example CNN: the export ships no more bytes than came in, and pruning keeps every weight uint8.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../pipeline/engine.ts';
import { fileLoadHandler } from '../../pipeline/io/tfjs-file-handler.ts';
import type { Report } from '../../pipeline/report.ts';
import { saveConverterStyle } from '../fixtures/converter-quantized.ts';

const BIN = path.resolve('bin/slimnet.js');
let work: string;
let modelJson: string;

interface Entry { name: string; quantization?: { dtype: string } }
const entries = (file: string): Entry[] =>
  (JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest: { weights: Entry[] }[] }).weightsManifest.flatMap((g) => g.weights);
const shardBytes = (file: string) =>
  (JSON.parse(readFileSync(file, 'utf8')) as { weightsManifest: { paths: string[] }[] }).weightsManifest
    .flatMap((g) => g.paths).map((p) => readFileSync(path.join(path.dirname(file), p)));

before(async () => {
  await initEngine('wasm');
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-uint8-'));
  const trained = await tf.loadLayersModel(fileLoadHandler(path.resolve('examples/mnist-cnn/model/model.json')));
  modelJson = await saveConverterStyle(trained, path.join(work, 'model-uint8'), 'uint8');
  trained.dispose();
});

function compress(name: string, stages: string): Report {
  const dir = path.join(work, name);
  writeFileSync(path.join(work, `${name}.config.ts`), `export default {
    model: ${JSON.stringify(modelJson)},
    data: { source: 'mnist-package' },
    cacheDir: false,
    out: ${JSON.stringify(dir)},
    evaluation: { limit: { train: 1500, test: 400 } },
    stages: ${stages},
  };\n`);
  const r = spawnSync(process.execPath, [BIN, 'compress', '--config', path.join(work, `${name}.config.ts`), '--json'], { cwd: work, encoding: 'utf8', timeout: 240_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as Report;
}

test('--stages export on a uint8 model ships its weights as they came: same bytes, no bigger model', () => {
  const report = compress('export-only', `['export']`);
  const input = statSync(modelJson).size + shardBytes(modelJson).reduce((n, b) => n + b.length, 0);
  assert.equal(report.baseline.bytes, input);
  const stage = report.stages[0]!;
  assert.equal(stage.status, 'accepted');
  assert.ok(stage.metrics!.bytes <= input, `export ${stage.metrics!.bytes} bytes > input ${input}`);
  const exported = path.join(work, 'export-only', report.exports.tfjs!);
  assert.ok(Buffer.concat(shardBytes(exported)).equals(Buffer.concat(shardBytes(modelJson))), 'the same weight bytes');
  assert.ok(entries(exported).every((e) => e.quantization?.dtype === 'uint8'));
  const formats = (stage.details as { formats: Record<string, { bytes: number; expectation: string; parity: { maxAbsDiff: number } }> }).formats;
  assert.equal(formats.tfjs!.bytes, stage.metrics!.bytes, '`bytes` counts what was written');
  assert.equal(formats.tfjs!.parity.maxAbsDiff, 0);
  // The ONNX file carries the big kernels as uint8 codes plus a lookup table: far below float32's 2.78 MB.
  assert.ok(formats.onnx!.bytes < input * 1.1, `onnx ${formats.onnx!.bytes} bytes`);
  assert.equal(formats.onnx!.expectation, 'float');
  assert.ok(formats.onnx!.parity.maxAbsDiff <= 1e-5);
});

test('prune,export on a uint8 model: pruned, reconstructed and fine-tuned, it stays uint8 and within budget', () => {
  const report = compress('prune', `[{ name: 'prune', options: { ratio: 0.5, search: false, fineTune: { epochs: 1 } } }, 'export']`);
  const [prune, exp] = report.stages;
  assert.equal(prune!.status, 'accepted', prune!.reason);
  assert.equal(exp!.status, 'accepted', exp!.reason);
  assert.ok(prune!.metrics!.params < report.baseline.params / 2);
  for (const file of [path.join(work, 'prune', prune!.artifacts.model!), path.join(work, 'prune', report.exports.tfjs!)]) {
    for (const e of entries(file)) assert.equal(e.quantization?.dtype, 'uint8', `${path.basename(path.dirname(file))}: ${e.name}`);
  }
  assert.ok(exp!.metrics!.bytes < report.baseline.bytes / 2, `${exp!.metrics!.bytes} vs ${report.baseline.bytes}`);
});
