/**
 * The ORT FineTuner end to end: same accuracy as the tfjs FineTuner from the same seed on a small learnable task,
 * engine dispatch (ORT when canTrainOnOrt, tfjs otherwise), limits, reproducibility, distillation, and no tfjs
 * tensors left behind.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from '../../../../pipeline/data/types.ts';
import { initEngine } from '../../../../pipeline/engine.ts';
import { measureQuality, tfjsPredictor } from '../../../../pipeline/evaluate.ts';
import { irFromTfjsModel } from '../../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../../pipeline/ir.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { canTrainOnOrt, ortFineTune } from '../../../../pipeline/train/ort/ort-fine-tune.ts';
import { chooseFineTuneEngine, fineTune } from '../../../../pipeline/train/fine-tune.ts';
import { tfjsFineTune } from '../../../../pipeline/train/tfjs-fine-tune.ts';
import type { FineTuneOptions } from '../../../../pipeline/train/types.ts';
import { cloneIR } from '../../../../pipeline/ir.ts';
import { layerFromKeras } from '../../../../pipeline/layers/registry.ts';

before(async () => {
  await initEngine('wasm');
});

/** 10x10 grey images; the class is the quadrant holding a bright 3x3 blob (or none: class 4), plus noise. */
function blobs(count: number, seed: number): LabelledSet {
  const rng = createRng(seed);
  const x = new Float32Array(count * 100);
  const y = new Int32Array(count);
  for (let n = 0; n < count; n++) {
    const c = rng.int(5);
    y[n] = c;
    for (let i = 0; i < 100; i++) x[n * 100 + i] = rng.next() * 0.6;
    if (c < 4) {
      const top = (c < 2 ? 0 : 5) + rng.int(3);
      const left = (c % 2 === 0 ? 0 : 5) + rng.int(3);
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) x[n * 100 + (top + i) * 10 + left + j] += 0.8;
    }
  }
  return { x, y, count, sampleShape: [10, 10, 1], numClasses: 5 };
}

async function smallCnn(seed: number, extra: tf.layers.Layer[] = []): Promise<ModelIR> {
  const init = (s: number) => tf.initializers.glorotUniform({ seed: seed + s });
  const m = tf.sequential({ name: 'small_cnn' });
  m.add(tf.layers.conv2d({ inputShape: [10, 10, 1], filters: 6, kernelSize: 3, activation: 'relu', kernelInitializer: init(1), name: 'conv' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }));
  for (const l of extra) m.add(l);
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 5, activation: 'softmax', kernelInitializer: init(2), name: 'head' }));
  const ir = await irFromTfjsModel(m);
  m.dispose();
  return ir;
}

const train = blobs(640, 1);
const testSet = blobs(400, 2);
const baseOptions: FineTuneOptions = { train, temperature: 2, alpha: 0, epochs: 3, batchSize: 32, learningRate: 0.01, optimizer: 'adam', seed: 5 };

async function accuracy(ir: ModelIR): Promise<number> {
  const p = await tfjsPredictor(ir);
  try {
    return (await measureQuality(p, testSet, 200)).accuracy;
  } finally {
    p.dispose();
  }
}

test('same accuracy as the tfjs FineTuner from the same seed (same batches, loss, optimizer and schedule)', async () => {
  const ir = await smallCnn(3);
  const before = await accuracy(ir);
  const ort = await ortFineTune(ir, baseOptions);
  const tfjs = await tfjsFineTune(ir, baseOptions);
  const [ortAcc, tfjsAcc] = [await accuracy(ort.ir), await accuracy(tfjs.ir)];
  assert.equal(ort.engine, 'ort');
  assert.equal(ort.samples, 3 * 640);
  assert.equal(tfjs.samples, ort.samples);
  assert.ok(ortAcc > 0.9 && ortAcc > before + 0.3, `ORT fine-tune learned the task: ${before} -> ${ortAcc}`);
  assert.ok(Math.abs(ortAcc - tfjsAcc) <= 0.01, `accuracy ORT ${ortAcc} vs tfjs ${tfjsAcc}`);
  assert.ok(Math.abs(ort.finalLoss - tfjs.finalLoss) < 0.02, `final loss ORT ${ort.finalLoss} vs tfjs ${tfjs.finalLoss}`);
});

test('dispatch: ORT when every layer is covered, tfjs (and which layer is in the way) otherwise', async () => {
  const covered = await smallCnn(3);
  assert.deepEqual(chooseFineTuneEngine(covered), { engine: 'ort' });
  const elu = await smallCnn(3, [tf.layers.elu({ name: 'elu' })]);
  const choice = chooseFineTuneEngine(elu);
  assert.equal(choice.engine, 'tfjs');
  assert.deepEqual(choice.engine === 'tfjs' && [choice.layer, choice.className], ['elu', 'ELU']);
  const opts = { ...baseOptions, epochs: undefined, maxSamples: 64 };
  assert.equal((await fineTune(covered, opts)).engine, 'ort');
  assert.equal((await fineTune(elu, opts)).engine, 'tfjs-wasm');
  await assert.rejects(ortFineTune(elu, opts), /ELU|onnxruntime training/);
});

test('limits (maxSamples exact: the last batch is cut, as the tfjs FineTuner does), progress, seeded reproducibility with dropout, no tensors left', async () => {
  const ir = await smallCnn(4, [tf.layers.dropout({ rate: 0.3, name: 'drop' })]);
  const start = tf.memory().numTensors;
  const progress: number[] = [];
  const opts: FineTuneOptions = { ...baseOptions, epochs: undefined, maxSamples: 100, onProgress: (p) => progress.push(p.samples) };
  const a = await ortFineTune(ir, opts);
  const b = await ortFineTune(ir, { ...opts, onProgress: undefined });
  const c = await ortFineTune(ir, { ...opts, onProgress: undefined, seed: 6 });
  assert.equal(a.samples, 100); // 3 batches of 32, then one cut to 4: both engines run the shared recipe
  assert.equal(progress.at(-1), 100);
  const kernel = (r: typeof a) => r.ir.layers.find((l) => l.name === 'head')!.weights[0].values;
  assert.deepEqual(kernel(a), kernel(b));
  assert.notDeepEqual(kernel(a), kernel(c));
  assert.notDeepEqual(kernel(a), ir.layers.find((l) => l.name === 'head')!.weights[0].values);
  assert.equal(tf.memory().numTensors, start);
});

test('distillation from a teacher (logits from its ONNX export) moves the student toward the teacher', async () => {
  const teacher = (await ortFineTune(await smallCnn(3), baseOptions)).ir;
  const student = await smallCnn(9);
  const before = await accuracy(student);
  const distilled = await ortFineTune(student, { ...baseOptions, teacher, alpha: 1, temperature: 3, epochs: 2 });
  assert.ok((await accuracy(distilled.ir)) > before + 0.3, 'the student learned from soft targets alone');
  assert.ok(distilled.finalLoss >= 0 && distilled.finalLoss < 1, `KL loss ${distilled.finalLoss}`);
});

test('canTrainOnOrt names the first layer it cannot train and why', async () => {
  const ir = await smallCnn(3);
  assert.deepEqual(canTrainOnOrt(ir), { ok: true });
  const noSoftmax = cloneIR(ir);
  noSoftmax.layers[noSoftmax.layers.length - 1] = layerFromKeras({ ...noSoftmax.layers.at(-1)!, keras: { ...noSoftmax.layers.at(-1)!.keras, activation: 'linear' } });
  const r = canTrainOnOrt(noSoftmax);
  assert.ok(!r.ok && r.layer === 'head' && /softmax/.test(r.reason));
  const dilatedDepthwise = cloneIR(ir);
  const conv = dilatedDepthwise.layers[1]!;
  const [kh, kw, c] = conv.weights[0]!.shape;
  dilatedDepthwise.layers[1] = layerFromKeras({
    ...conv,
    className: 'DepthwiseConv2D',
    keras: { ...conv.keras, filters: null, dilation_rate: [2, 2] },
    weights: [{ name: 'depthwise_kernel', shape: [kh!, kw!, c!, 1], values: new Float32Array(kh! * kw! * c!) }, conv.weights[1]!],
  });
  const d = canTrainOnOrt(dilatedDepthwise);
  assert.ok(!d.ok && d.className === 'DepthwiseConv2D' && /dilation/.test(d.reason));
});
