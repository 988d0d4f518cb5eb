/**
 * End-to-end: `slimnet compress --model <Keras file> --data <IDX dir> --stages export` through the real CLI, for a
 * Sequential CNN (.keras), an MLP (Keras 2 .h5) and a functional model with an Add (Keras 3 .h5). The TF.js export
 * must load in stock tf.loadLayersModel and reproduce the independent reference forward pass of the Keras file;
 * the ONNX export must pass the export stage's parity check.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../pipeline/engine.ts';
import { fileLoadHandler } from '../../pipeline/io/tfjs-file-handler.ts';
import type { Report } from '../../pipeline/report.ts';
import { createRng } from '../../pipeline/random.ts';
import { referenceForward } from '../fixtures/keras/reference.ts';
import { CNN, makeWeights, MLP, RESIDUAL, type ModelSpec } from '../fixtures/keras/spec.ts';
import { legacyH5, writeKerasArchive } from '../fixtures/keras/write.ts';
import { syntheticIdxSet, writeIdxFolder } from '../fixtures/idx.ts';

const BIN = path.resolve('bin/slimnet.js');
let work: string;
let dataDir: string;

before(async () => {
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-keras-'));
  dataDir = path.join(work, 'idx');
  writeIdxFolder(dataDir, { train: syntheticIdxSet(200, 12, 12, 4, 1), test: syntheticIdxSet(60, 12, 12, 4, 2) });
  await initEngine('wasm');
});

function compress(model: string, out: string, extra: string[] = [], stages = 'export') {
  const r = spawnSync(process.execPath, [BIN, 'compress', '--model', model, '--data', dataDir, '--stages', stages, '--out', out, '--json', ...extra],
    { cwd: work, encoding: 'utf8', timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

async function checkRun(spec: ModelSpec, file: string, format: string): Promise<void> {
  const out = path.join(work, `out-${path.basename(file)}`);
  const r = compress(file, out);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.model.format, format);
  assert.equal(report.model.sha256, createHash('sha256').update(readFileSync(file)).digest('hex'));
  assert.equal(report.data.scale, 1 / 255);
  assert.equal(report.stages[0]!.status, 'accepted', report.stages[0]!.reason);
  type Parity = { top1Agreement: number; maxAbsDiff: number };
  const parity = (report.stages[0]!.details as { parity: { tfjs: Parity; onnx: Parity } }).parity;
  for (const f of ['tfjs', 'onnx'] as const) assert.equal(parity[f].top1Agreement, 1, f);

  // Stock tfjs loads the export, and it computes what the Keras file defines.
  const exported = await tf.loadLayersModel(fileLoadHandler(path.join(out, report.exports.tfjs!)));
  const shape = (spec.layers[0] as { shape: number[] }).shape;
  const per = shape.reduce((a, b) => a * b, 1);
  const rng = createRng(5);
  const x = Float32Array.from({ length: 4 * per }, () => rng.next());
  const got = (exported.predict(tf.tensor(x, [4, ...shape])) as tf.Tensor).dataSync();
  const weights = makeWeights(spec, 9);
  for (let s = 0; s < 4; s++) {
    const want = referenceForward(spec, weights, x.subarray(s * per, (s + 1) * per));
    want.forEach((v, c) => assert.ok(Math.abs(v - got[s * want.length + c]!) <= 1e-5, `${file} sample ${s} class ${c}: ${got[s * want.length + c]} vs ${v}`));
  }
}

test('a Sequential CNN (BatchNormalization, Dropout, same padding) as .keras', async () => {
  const file = path.join(work, 'cnn.keras');
  await writeKerasArchive(file, CNN, makeWeights(CNN, 9));
  await checkRun(CNN, file, 'keras');
});

test('an MLP as a tf.keras 2 .h5', async () => {
  const file = path.join(work, 'mlp.h5');
  writeFileSync(file, await legacyH5(MLP, makeWeights(MLP, 9), 'keras2'));
  await checkRun(MLP, file, 'keras-h5');
});

test('a functional model with an Add as a Keras 3 .h5', async () => {
  const file = path.join(work, 'residual.h5');
  writeFileSync(file, await legacyH5(RESIDUAL, makeWeights(RESIDUAL, 9), 'keras3.5'));
  await checkRun(RESIDUAL, file, 'keras-h5');
});

test('an unsupported Keras layer is one line on stderr and exit 2', async () => {
  const file = path.join(work, 'lambda.keras');
  const { keras3Config } = await import('../fixtures/keras/spec.ts');
  const config = keras3Config(MLP) as { config: { layers: unknown[] } };
  config.config.layers[2] = { module: 'keras.layers', class_name: 'Lambda', config: { name: 'double_it' }, registered_name: null };
  await writeKerasArchive(file, MLP, makeWeights(MLP), { config });
  const r = compress(file, path.join(work, 'out-lambda'));
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('slimnet:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0]!, /layer "double_it" \(Lambda\)/);
});

test('a .keras CNN with Rescaling and Normalization in front goes through prune,export: the conv is pruned, both exports at parity', async () => {
  const spec: ModelSpec = {
    name: 'sequential', functional: false, layers: [
      { name: 'input_layer', kind: 'input', shape: [12, 12, 1] },
      { name: 'rescaling', kind: 'rescaling', scale: 1 / 127.5, offset: -1 },
      { name: 'normalization', kind: 'normalization', mean: [0.2], variance: [0.5] },
      { name: 'conv2d', kind: 'conv2d', filters: 8, kernel: 3, padding: 'same', activation: 'relu' },
      { name: 'max_pooling2d', kind: 'maxpool', pool: 2 },
      { name: 'flatten', kind: 'flatten' },
      { name: 'dense', kind: 'dense', units: 4, activation: 'softmax' },
    ],
  };
  const file = path.join(work, 'preprocessed.keras');
  await writeKerasArchive(file, spec, makeWeights(spec, 3));
  const out = path.join(work, 'out-preprocessed');
  // The weights are random, so no search: half the conv's filters go, and fine-tuning trains what is left.
  const config = path.join(work, 'preprocessed.config.ts');
  writeFileSync(config, `export default ${JSON.stringify({ model: file, data: { source: 'idx', dir: dataDir }, stages: [{ name: 'prune', options: { ratio: 0.5 } }, 'export'] })};\n`);
  // Raw 0–255 pixels in (data scale 1): the model's own Rescaling does the preprocessing.
  const r = compress(file, out, ['--config', config, '--data-scale', '1', '--max-accuracy-drop', '0.05'], 'prune,export');
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  const [prune, exp] = report.stages;
  assert.equal(prune!.status, 'accepted', prune!.reason);
  assert.ok(report.final.params < report.baseline.params, `params ${report.baseline.params} → ${report.final.params}`);
  assert.equal(exp!.status, 'accepted', exp!.reason);
  type Parity = { top1Agreement: number; maxAbsDiff: number };
  const parity = (exp!.details as { parity: { tfjs: Parity; onnx: Parity } }).parity;
  for (const f of ['tfjs', 'onnx'] as const) {
    assert.equal(parity[f].top1Agreement, 1, f);
    assert.ok(parity[f].maxAbsDiff <= 1e-4, `${f} max |Δ| ${parity[f].maxAbsDiff}`);
  }
});
