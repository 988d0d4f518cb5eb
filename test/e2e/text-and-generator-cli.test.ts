/**
 * End to end through the CLI (`--stages export`), the two model kinds the article adds to CNNs: a text classifier
 * (Embedding with mask_zero → LSTM → Dense) on IDX int token ids, left-padded to a fixed length; and a DCGAN-style
 * generator (Dense → BatchNormalization → LeakyReLU → Reshape → Conv2DTranspose → BatchNormalization → LeakyReLU →
 * Conv2DTranspose tanh) on latent vectors, task 'regress'. Each is exported to TF.js, ONNX (official checker) and
 * TFLite (its runtime), every file loaded back and held to float parity with the model slimnet read.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import { createRng } from '../../pipeline/random.ts';
import type { Report } from '../../pipeline/report.ts';
import { runCliInProcess } from '../fixtures/cli.ts';
import { encodeIdx } from '../fixtures/idx.ts';
import { randomizeWeights } from '../fixtures/models.ts';
import { needsValidator } from '../helpers/validators.ts';

const FORMATS = ['tfjs', 'onnx', 'tflite'];
let work: string;
before(async () => {
  await initEngine('wasm');
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-families-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

async function exportRun(t: TestContext, name: string, config: string): Promise<Report | undefined> {
  if (!needsValidator(t, 'tflite-runtime') || !needsValidator(t, 'onnx-checker')) return undefined;
  const file = path.join(work, `${name}.config.mjs`);
  writeFileSync(file, config);
  const r = await runCliInProcess(['compress', '--config', file, '--stages', 'export', '--out', path.join(work, `${name}-out`), '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  const stage = report.stages[0]!;
  assert.equal(stage.status, 'accepted', stage.reason);
  const parity = (stage.details as { parity: Record<string, { maxAbsDiff: number }> }).parity;
  for (const format of FORMATS) assert.ok(parity[format]!.maxAbsDiff <= 1e-4, `${name}: ${format} max |Δ| ${parity[format]!.maxAbsDiff}`);
  assert.deepEqual(Object.keys(report.exports).sort(), [...FORMATS].sort());
  return report;
}

test('a text classifier (Embedding mask_zero → LSTM → Dense) on left-padded IDX int ids: TF.js, ONNX and TFLite at parity', async (t) => {
  const steps = 8;
  const m = tf.sequential({ name: 'text' });
  m.add(tf.layers.embedding({ inputShape: [steps], inputDim: 30, outputDim: 8, maskZero: true, name: 'embed' }));
  m.add(tf.layers.lstm({ units: 6, recurrentActivation: 'sigmoid', name: 'lstm' }));
  m.add(tf.layers.dense({ units: 2, activation: 'softmax', name: 'head' }));
  const { modelJsonPath } = await writeModel(await irFromTfjsModel(randomizeWeights(m, 4)), path.join(work, 'text', 'model'));
  m.dispose();
  const rng = createRng(3);
  const set = (count: number) => {
    const ids = new Int32Array(count * steps);
    for (let i = 0; i < count; i++) {
      const length = 2 + rng.int(steps - 1);
      for (let s = steps - length; s < steps; s++) ids[i * steps + s] = 1 + rng.int(29);
    }
    return { ids, labels: Uint8Array.from({ length: count }, () => rng.int(2)) };
  };
  const data = path.join(work, 'text', 'data');
  mkdirSync(data, { recursive: true });
  for (const [prefix, count] of [['train', 200], ['t10k', 60]] as const) {
    const s = set(count);
    writeFileSync(path.join(data, `${prefix}-images-idx3-ubyte`), encodeIdx('int', [count, steps], s.ids));
    writeFileSync(path.join(data, `${prefix}-labels-idx1-ubyte`), encodeIdx('ubyte', [count], s.labels));
  }
  await exportRun(t, 'text', `export default ${JSON.stringify({
    model: modelJsonPath, data: { source: 'idx', dir: data }, cacheDir: false,
    stages: [{ name: 'export', options: { formats: FORMATS } }],
  })};\n`);
});

test("a DCGAN-style generator (Dense → BN → LeakyReLU → Reshape → Conv2DTranspose ×2, tanh) on latents, task 'regress': TF.js, ONNX and TFLite at parity", async (t) => {
  const g = tf.sequential({ name: 'generator' });
  g.add(tf.layers.dense({ inputShape: [8], units: 4 * 4 * 8, useBias: false, name: 'project' }));
  g.add(tf.layers.batchNormalization({ name: 'bn0' }));
  g.add(tf.layers.leakyReLU({ alpha: 0.2, name: 'lrelu0' }));
  g.add(tf.layers.reshape({ targetShape: [4, 4, 8], name: 'grid' }));
  g.add(tf.layers.conv2dTranspose({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'up1' }));
  g.add(tf.layers.batchNormalization({ name: 'bn1' }));
  g.add(tf.layers.leakyReLU({ alpha: 0.2, name: 'lrelu1' }));
  g.add(tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh', name: 'image' }));
  const { modelJsonPath } = await writeModel(await irFromTfjsModel(randomizeWeights(g, 5)), path.join(work, 'gan', 'model'));
  g.dispose();
  const report = await exportRun(t, 'gan', [
    'const latents = (n, seed) => { let s = seed >>> 0; const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;',
    '  return Float32Array.from({ length: n * 8 }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u())); };',
    `export default { model: ${JSON.stringify(modelJsonPath)}, task: 'regress', cacheDir: false,`,
    "  data: { source: 'arrays', load: () => ({ train: { x: latents(160, 1) }, test: { x: latents(40, 2) }, sampleShape: [8] }) },",
    `  stages: [{ name: 'export', options: { formats: ${JSON.stringify(FORMATS)} } }] };`,
  ].join('\n'));
  if (report) assert.deepEqual(report.quality, { task: 'regress', labels: 'teacher', metric: 'relative-mse' });
});
