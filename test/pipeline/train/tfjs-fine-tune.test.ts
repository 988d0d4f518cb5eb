import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import { measureQuality, predictSet, tfjsPredictor } from '../../../pipeline/evaluate.ts';
import { cloneIR, type ModelIR } from '../../../pipeline/ir.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { createRng } from '../../../pipeline/random.ts';
import { tfjsFineTune } from '../../../pipeline/train/tfjs-fine-tune.ts';
import type { FineTuneOptions } from '../../../pipeline/train/types.ts';
import { functionalResidual, randomizeWeights } from '../../fixtures/models.ts';
import { barSet } from '../../fixtures/sets.ts';

let task: LabelledSet;
let student: ModelIR;

before(async () => {
  await initEngine('wasm');
  task = barSet(150, 1);
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 3, kernelSize: 3, activation: 'relu', name: 'conv' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  student = await irFromTfjsModel(randomizeWeights(m, 3));
  m.dispose();
});

const base = (over: Partial<FineTuneOptions> = {}): FineTuneOptions => ({
  train: task, temperature: 2, alpha: 0, epochs: 1, batchSize: 16, learningRate: 0.01, optimizer: 'adam', seed: 1, ...over,
});

async function accuracy(ir: ModelIR, set: LabelledSet): Promise<number> {
  const p = await tfjsPredictor(ir);
  const a = await measureQuality(p, set, 64);
  p.dispose();
  return a.accuracy;
}

test('hard labels: fine-tuning learns the task; the softmax head and shapes come back unchanged', async () => {
  const before = await accuracy(student, task);
  const result = await tfjsFineTune(student, base({ epochs: 15 }));
  assert.ok(before < 0.7, `starts at ${before}`);
  assert.ok((await accuracy(result.ir, barSet(60, 2))) > 0.9);
  assert.equal(result.ir.layers.find((l) => l.name === 'out')!.keras.activation, 'softmax');
  assert.deepEqual(result.ir.layers.map((l) => l.weights.map((w) => w.shape)), student.layers.map((l) => l.weights.map((w) => w.shape)));
  assert.equal(result.samples, 15 * 150);
  assert.match(result.engine, /^tfjs-/);
  assert.ok(Number.isFinite(result.finalLoss));
});

test('distillation with alpha 1 follows the teacher and ignores the hard labels', async () => {
  const teacher = (await tfjsFineTune(student, base({ epochs: 15 }))).ir;
  const wrongLabels: LabelledSet = { ...task, y: new Int32Array(task.count) }; // every label "0"
  const result = await tfjsFineTune(student, base({ train: wrongLabels, teacher, alpha: 1, epochs: 15 }));
  const probe = barSet(60, 2);
  assert.ok((await accuracy(result.ir, probe)) > 0.9);
  const onlyLabels = await tfjsFineTune(student, base({ train: wrongLabels, alpha: 1, epochs: 2 }));
  assert.ok(onlyLabels.samples > 0); // alpha without a teacher: hard labels only, still runs
  const predict = async (ir: ModelIR) => {
    const p = await tfjsPredictor(ir);
    const out = await predictSet(p, probe, 64);
    p.dispose();
    return out;
  };
  const [t, s] = [await predict(teacher), await predict(result.ir)];
  let maxDiff = 0;
  for (let i = 0; i < t!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(t![i]! - s![i]!));
  assert.ok(maxDiff < 0.5, `student vs teacher max |Δp| ${maxDiff}`);
});

test('seeded: the same seed gives identical weights, another seed different ones', async () => {
  const [a, b, c] = [await tfjsFineTune(student, base()), await tfjsFineTune(student, base()), await tfjsFineTune(student, base({ seed: 2 }))];
  assert.deepEqual(a.ir, b.ir);
  assert.notDeepEqual(a.ir, c.ir);
});

test('limits: maxSamples is exact, epochs count passes, maxSeconds stops early; progress is reported', async () => {
  assert.equal((await tfjsFineTune(student, base({ epochs: undefined, maxSamples: 100 }))).samples, 100);
  assert.equal((await tfjsFineTune(student, base({ epochs: 2, maxSamples: 1000 }))).samples, 300);
  const progress: number[] = [];
  const timed = await tfjsFineTune(student, base({ epochs: 1000, maxSeconds: 0.05, onProgress: (p) => progress.push(p.samples) }));
  assert.ok(timed.samples < 1000 * 150);
  assert.equal(progress.at(-1), timed.samples);
  await assert.rejects(tfjsFineTune(student, base({ epochs: undefined })), /at least one of epochs, maxSamples, maxSeconds/);
});

test('disposes every tensor it makes, and leaves the input IR alone', async () => {
  const copy = cloneIR(student);
  await tfjsFineTune(student, base({ teacher: student, alpha: 0.5 }));
  const before = tf.memory().numTensors;
  await tfjsFineTune(student, base({ teacher: student, alpha: 0.5 }));
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(student, copy);
});

test('BatchNormalization without center trains (tfjs cannot differentiate it as saved) and keeps its weights list', async () => {
  const m = functionalResidual();
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const rng = createRng(4);
  const set: LabelledSet = { x: Float32Array.from({ length: 32 * 8 * 8 * 3 }, () => rng.next()), y: Int32Array.from({ length: 32 }, () => rng.int(3)), count: 32, sampleShape: [8, 8, 3], numClasses: 3 };
  const result = await tfjsFineTune(ir, base({ train: set, teacher: ir, alpha: 0.5 }));
  const bn = result.ir.layers.find((l) => l.name === 'bn_b')!;
  assert.deepEqual(bn.weights.map((w) => w.name), ['gamma', 'moving_mean', 'moving_variance']);
  assert.equal(bn.keras.center, false);
  assert.notDeepEqual(bn.weights[0]!.values, ir.layers.find((l) => l.name === 'bn_b')!.weights[0]!.values);
});

test('a model with Dropout fine-tunes reproducibly from the same seed, and differently from another', async () => {
  const m = tf.sequential();
  m.add(tf.layers.flatten({ inputShape: [6, 6, 1], name: 'flat' }));
  m.add(tf.layers.dense({ units: 8, activation: 'relu', name: 'hidden' }));
  m.add(tf.layers.dropout({ rate: 0.5, name: 'drop' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 5));
  m.dispose();
  const kernel = (r: ModelIR) => r.layers.find((l) => l.name === 'hidden')!.weights[0]!.values;
  const a = await tfjsFineTune(ir, base({ seed: 3 }));
  const b = await tfjsFineTune(ir, base({ seed: 3 }));
  const c = await tfjsFineTune(ir, base({ seed: 4 }));
  assert.deepEqual(kernel(a.ir), kernel(b.ir));
  assert.notDeepEqual(kernel(a.ir), kernel(c.ir));
});
