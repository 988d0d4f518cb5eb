/**
 * End to end through the CLI: an LSTM and a GRU classifier on Fashion-MNIST-style rows (28×28×1 images, a Reshape to
 * 28 steps × 28 features, the recurrent layer, a Dense head) go through `--stages prune,export`: hidden units are
 * pruned (smaller model, within the budget) and both exports (TF.js, ONNX) are parity-checked in their runtimes.
 *
 * The data is generated (a bright stroke whose rows and slant tell the class, over noise) and the models are trained
 * here, seeded, on onnxruntime (the recurrent layers' training rule), so the test needs no download. The prune stage
 * is given a params target (0.6): its search judges candidates before fine-tuning, and removing hidden units moves
 * the recurrence too much for any candidate to pass that early; with a target, reconstruction and distillation
 * fine-tuning recover it, and the runner's gate judges the model that ships.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test, type TestContext } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import { createRng } from '../../pipeline/random.ts';
import type { RecoveryStep } from '../../pipeline/prune/prune-report.ts';
import type { Report } from '../../pipeline/report.ts';
import { fineTune } from '../../pipeline/train/fine-tune.ts';
import { runCliInProcess } from '../fixtures/cli.ts';
import { writeIdxFolder, type IdxSetSpec } from '../fixtures/idx.ts';
import { randomizeWeights } from '../fixtures/models.ts';

const SIDE = 28;
const CLASSES = 6;
const BUDGET = 0.02;
let work: string;
let dataDir: string;
let train: LabelledSet;

/**
 * Class k: a bright stroke three rows high starting at a class-dependent row, slanting right (even k) or left (odd k),
 * over uniform noise; the recurrent layer must remember where along the rows the stroke was, and which way it ran.
 */
function strokes(count: number, seed: number): IdxSetSpec {
  const rng = createRng(seed);
  const images = new Uint8Array(count * SIDE * SIDE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const k = i % CLASSES;
    labels[i] = k;
    const top = 2 + Math.floor(k / 2) * 8 + rng.int(5);
    const start = 4 + rng.int(6);
    for (let r = 0; r < SIDE; r++) {
      for (let c = 0; c < SIDE; c++) images[(i * SIDE + r) * SIDE + c] = rng.int(110);
      if (r < top || r >= top + 4) continue;
      const col = k % 2 === 0 ? start + 3 * (r - top) : start + 12 - 3 * (r - top);
      for (let c = col; c < col + 5; c++) images[(i * SIDE + r) * SIDE + c] = 140 + rng.int(115);
    }
  }
  return { images, labels, count, rows: SIDE, cols: SIDE };
}

before(async () => {
  await initEngine('wasm');
  work = mkdtempSync(path.join(os.tmpdir(), 'slimnet-e2e-rnn-'));
  dataDir = path.join(work, 'data');
  const spec = strokes(1200, 1);
  writeIdxFolder(dataDir, { train: spec, test: strokes(300, 2), gzip: true });
  train = { x: Float32Array.from(spec.images, (v) => v / 255), y: Int32Array.from(spec.labels), count: spec.count, sampleShape: [SIDE, SIDE, 1], numClasses: CLASSES };
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Input 28×28×1 → Reshape [28, 28] → `cell` → Dense(softmax), trained a few seeded epochs on onnxruntime. */
async function trainedClassifier(name: string, cell: tf.layers.Layer): Promise<string> {
  const m = tf.sequential({ name });
  m.add(tf.layers.inputLayer({ inputShape: [SIDE, SIDE, 1], name: 'image' }));
  m.add(tf.layers.reshape({ targetShape: [SIDE, SIDE], name: 'rows' }));
  m.add(cell);
  m.add(tf.layers.dense({ units: CLASSES, activation: 'softmax', name: 'classes' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 3));
  m.dispose();
  const trained = await fineTune(ir, { train, temperature: 1, alpha: 0, epochs: 6, batchSize: 32, learningRate: 0.01, optimizer: 'adam', seed: 1 });
  assert.equal(trained.engine, 'ort');
  const { modelJsonPath } = await writeModel(trained.ir, path.join(work, name));
  return modelJsonPath;
}

async function pruneAndExport(t: TestContext, name: string, cell: tf.layers.Layer): Promise<void> {
  const model = await trainedClassifier(name, cell);
  const out = path.join(work, `${name}-out`);
  const config = path.join(work, `${name}.config.ts`);
  writeFileSync(config, `export default ${JSON.stringify({
    model, data: { source: 'idx', dir: dataDir }, budget: { maxAccuracyDrop: BUDGET }, seed: 7, evaluation: { latencySamples: 5 },
    stages: [{ name: 'prune', options: { target: { params: 0.6 }, progressive: false, fineTune: { epochs: 4, learningRate: 0.002 } }, onBudgetMiss: 'fail' }, { name: 'export', options: { latencyRuns: 5 }, onBudgetMiss: 'fail' }],
  })};\n`);
  const r = await runCliInProcess(['compress', '--config', config, '--stages', 'prune,export', '--out', out, '--json'], work);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  const [prune, exp] = report.stages;
  const [b, f] = [report.baseline, report.final];
  t.diagnostic(`${name}: params ${b.params} → ${f.params}, MACs ${b.macs} → ${f.macs}, val ${b.valAccuracy} → ${f.valAccuracy}, test ${b.testAccuracy} → ${f.testAccuracy}`);
  assert.ok(report.baseline.valAccuracy >= 0.8, `baseline validation accuracy ${report.baseline.valAccuracy}`);
  assert.equal(prune!.status, 'accepted');
  assert.ok(report.final.params < report.baseline.params, `params ${report.baseline.params} → ${report.final.params}`);
  assert.ok(report.final.macs < report.baseline.macs, `MACs ${report.baseline.macs} → ${report.final.macs}`);
  assert.ok(report.final.valAccuracy >= report.baseline.valAccuracy - BUDGET, `validation accuracy ${report.baseline.valAccuracy} → ${report.final.valAccuracy}`);
  // Removing hidden units costs accuracy; reconstruction and fine-tuning bring it back (progressive false: the
  // one-shot path, without the search's short fine-tunes, which the stage tests cover).
  const steps = (prune!.details as { recovery: RecoveryStep[] }).recovery;
  assert.deepEqual(steps.map((s) => s.step), ['removal', 'reconstruction', 'fine-tuning']);
  assert.ok(steps[0]!.valAccuracy < steps[2]!.valAccuracy, `val accuracy after removal ${steps[0]!.valAccuracy}, after fine-tuning ${steps[2]!.valAccuracy}`);
  assert.equal(exp!.status, 'accepted');
  type Parity = { top1Agreement: number; maxAbsDiff: number };
  const parity = (exp!.details as { parity: Record<string, Parity> }).parity;
  for (const format of ['tfjs', 'onnx']) {
    assert.ok(parity[format], `${format} parity was checked`);
    assert.equal(parity[format]!.top1Agreement, 1, format);
    assert.ok(parity[format]!.maxAbsDiff <= 1e-4, `${format} max |Δ| ${parity[format]!.maxAbsDiff}`);
  }
}

test('LSTM classifier on 28 rows × 28 features: prune,export from the CLI — fewer hidden units, within the budget, both exports at parity', async (t) => {
  await pruneAndExport(t, 'lstm-rows', tf.layers.lstm({ units: 48, name: 'lstm' }));
});

test('GRU classifier on 28 rows × 28 features: prune,export from the CLI — fewer hidden units, within the budget, both exports at parity', async (t) => {
  await pruneAndExport(t, 'gru-rows', tf.layers.gru({ units: 48, recurrentActivation: 'sigmoid', name: 'gru' }));
});
