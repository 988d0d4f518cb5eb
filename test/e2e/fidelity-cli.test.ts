/**
 * End-to-end through the CLI (`--stages prune,export`): an MLP classifier (Flatten → Dense → Dense → Dense) on IDX
 * data, and a convolutional autoencoder (Conv2D → Conv2DTranspose, task 'regress') on images without labels, gated on
 * fidelity to the input model. Each must come out smaller, within its budget, and both exports parity-checked.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { layerClass } from '../../pipeline/layers/registry.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import type { Report } from '../../pipeline/report.ts';
import { runCliInProcess } from '../fixtures/cli.ts';
import { randomizeWeights } from '../fixtures/models.ts';
import { syntheticIdxSet } from '../fixtures/idx.ts';
import { TINY, writeTinyTask } from '../fixtures/tiny-task.ts';

let work: string;

before(async () => {
  await initEngine('wasm');
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-fidelity-e2e-'));
});

const QUICK_PRUNE = { sensitivityRatios: [0.25, 0.5, 0.75], refineSteps: 1, fallbacks: 1, calibrationSamples: 256, fineTune: { epochs: 2 } };

/** The checks every run must pass: prune smaller and accepted within its floor; export accepted with both formats at parity. */
function assertSmallerWithinBudgetAndExported(report: Report, why: string): void {
  const [prune, exported] = report.stages;
  assert.equal(prune!.status, 'accepted', `${why}: ${prune!.reason}`);
  assert.ok(prune!.metrics!.params < report.baseline.params, `${why}: ${prune!.metrics!.params} params, baseline ${report.baseline.params}`);
  assert.ok(prune!.metrics!.valAccuracy >= report.budget.minValAccuracy - 1e-9, `${why}: below the floor`);
  assert.equal(exported!.status, 'accepted', `${why}: ${exported!.reason}`);
  const parity = (exported!.details as { parity: Record<string, { maxAbsDiff: number; top1Agreement: number }> }).parity;
  for (const format of ['tfjs', 'onnx']) assert.ok(parity[format]!.maxAbsDiff <= 1e-4, `${why}: ${format} max |Δ| ${parity[format]!.maxAbsDiff}`);
  assert.deepEqual(Object.keys(report.exports).sort(), ['onnx', 'tfjs']);
}

test('an MLP classifier (Flatten → Dense → Dense → Dense) through prune,export: smaller, within the budget, both exports at parity', async () => {
  const task = await writeTinyTask(path.join(work, 'mlp'));
  const m = tf.sequential({ name: 'mlp' });
  m.add(tf.layers.flatten({ inputShape: [6, 6, 1], name: 'flatten' }));
  m.add(tf.layers.dense({ units: 32, activation: 'relu', name: 'fc1' }));
  m.add(tf.layers.dense({ units: 16, activation: 'relu', name: 'fc2' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  randomizeWeights(m, 5);
  // The tiny task's bars (TINY: 6×6, 3 classes): seeded samples of the same generator.
  const { x, y } = barBatch(300, 11);
  m.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
  await m.fit(x, y, { epochs: 30, batchSize: 32, shuffle: false, verbose: 0 });
  tf.dispose([x, y]);
  const { modelJsonPath } = await writeModel(await irFromTfjsModel(m), path.join(work, 'mlp', 'trained'));
  m.dispose();
  const out = path.join(work, 'mlp-out');
  const config = path.join(work, 'mlp.config.mjs');
  writeFileSync(config, `export default ${JSON.stringify({ model: modelJsonPath, data: { source: 'idx', dir: task.dataDir }, cacheDir: false, budget: { maxAccuracyDrop: 0.02 }, stages: [{ name: 'prune', options: QUICK_PRUNE }, 'export'] })};\n`);
  const r = await runCliInProcess(['compress', '--config', config, '--stages', 'prune,export', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.equal(report.budget.metric, 'accuracy');
  assert.ok(report.baseline.valAccuracy > 0.9, `baseline ${report.baseline.valAccuracy}`);
  assertSmallerWithinBudgetAndExported(report, 'mlp');
});

// Conv2DTranspose's ONNX export comes with the 'families' work; until it is in this build the export half cannot run.
const transposeExports = layerClass('Conv2DTranspose')?.onnx !== undefined;

test("a convolutional autoencoder (Conv2D → Conv2DTranspose), task 'regress', images without labels: gated on fidelity to the input model",
  { skip: transposeExports ? false : 'Conv2DTranspose has no ONNX export in this build yet' }, async () => {
  const images = blobImages(400, 21);
  const m = tf.sequential({ name: 'autoencoder' });
  // Trained with an L1 penalty on the kernels, as sparsity-seeking training does: many filters end up carrying little.
  const l1 = () => tf.regularizers.l1({ l1: 3e-4 });
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 24, kernelSize: 3, padding: 'same', activation: 'relu', kernelRegularizer: l1(), name: 'encode' }));
  m.add(tf.layers.conv2dTranspose({ filters: 1, kernelSize: 3, padding: 'same', activation: 'sigmoid', kernelRegularizer: l1(), name: 'decode' }));
  randomizeWeights(m, 6);
  const x = tf.tensor4d(images, [400, 8, 8, 1]);
  m.compile({ optimizer: tf.train.adam(0.01), loss: 'meanSquaredError' });
  await m.fit(x, x, { epochs: 60, batchSize: 32, shuffle: false, verbose: 0 });
  x.dispose();
  const { modelJsonPath } = await writeModel(await irFromTfjsModel(m), path.join(work, 'ae', 'trained'));
  m.dispose();
  const out = path.join(work, 'ae-out');
  const config = path.join(work, 'ae.config.mjs');
  writeFileSync(config, [
    `const images = (n, seed) => { ${blobSource} return blobs(n, seed); };`,
    `export default {`,
    `  model: ${JSON.stringify(modelJsonPath)},`,
    `  data: { source: 'arrays', load: () => ({ train: { x: images(320, 1) }, test: { x: images(100, 2) }, sampleShape: [8, 8, 1] }) },`,
    `  task: 'regress', cacheDir: false, budget: { maxAccuracyDrop: 0.05 },`,
    `  stages: [{ name: 'prune', options: ${JSON.stringify(QUICK_PRUNE)} }, 'export'],`,
    `};`,
  ].join('\n'));
  const r = await runCliInProcess(['compress', '--config', config, '--stages', 'prune,export', '--out', out, '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  assert.deepEqual(report.quality, { task: 'regress', labels: 'teacher', metric: 'relative-mse' });
  assert.equal(report.budget.metric, 'relative-mse');
  assert.equal(report.baseline.valAccuracy, 1, 'the input model is its own teacher');
  assert.equal(report.baseline.fidelity!.valPsnr, null);
  const pruned = report.stages[0]!.metrics!;
  assert.ok(pruned.fidelity!.valRelativeMse <= 0.05 + 1e-9 && Math.abs(1 - pruned.valAccuracy - pruned.fidelity!.valRelativeMse) < 1e-9, JSON.stringify(pruned.fidelity));
  assert.ok(pruned.fidelity!.valPsnr! > 0);
  assert.match(report.stages[0]!.notes!.join('\n'), /fine-tuning skipped/);
  assertSmallerWithinBudgetAndExported(report, 'autoencoder');
});

/** The tiny task's own generator (bright bar rows, 6×6, 3 classes) with other seeds, scaled as the IDX source scales it. */
function barBatch(count: number, seed: number): { x: tf.Tensor; y: tf.Tensor } {
  const set = syntheticIdxSet(count, TINY.rows, TINY.cols, TINY.classes, seed);
  const x = tf.tensor4d(Float32Array.from(set.images, (v) => v / 255), [count, TINY.rows, TINY.cols, 1]);
  return { x, y: tf.oneHot(tf.tensor1d(Array.from(set.labels), 'int32'), TINY.classes).toFloat() };
}

/** Seeded 8×8 images of one soft blob each; the same code runs inside the generated config (no imports there). */
const blobSource = `
  const blobs = (n, seed) => {
    let s = seed >>> 0;
    const next = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296);
    const x = new Float32Array(n * 64);
    for (let i = 0; i < n; i++) {
      const cx = 1 + next() * 6, cy = 1 + next() * 6, r = 1 + next() * 1.5;
      for (let p = 0; p < 64; p++) { const dx = (p % 8) - cx, dy = Math.floor(p / 8) - cy; x[i * 64 + p] = Math.exp(-(dx * dx + dy * dy) / (r * r)); }
    }
    return x;
  };`;
const blobImages = new Function('n', 'seed', `${blobSource} return blobs(n, seed);`) as (n: number, seed: number) => Float32Array;
