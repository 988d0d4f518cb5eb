import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels, type ChannelAnalysis } from '../../../pipeline/graph/channel-groups.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { createReconstructor, reconstructionTargets } from '../../../pipeline/prune/reconstruct.ts';
import { removeChannels } from '../../../pipeline/prune/remove-channels.ts';
import { predictFlat, randomInputs, randomizeWeights, sequentialCnn } from '../../fixtures/models.ts';
import { depthwiseChain, silenceClasses } from './prunable-models.ts';
import { randomInputSet } from '../../fixtures/sets.ts';

before(async () => {
  await initEngine('wasm');
});

/** Mean squared difference of the two models' outputs on fresh inputs (measured by tfjs, not by the fit). */
async function outputError(a: ModelIR, b: ModelIR, seed = 21): Promise<number> {
  const [ma, mb] = [await buildTfjsModel(a), await buildTfjsModel(b)];
  const inputs = randomInputs(ma, 64, seed);
  const [[pa], [pb]] = [await predictFlat(ma, inputs), await predictFlat(mb, inputs)];
  tf.dispose(inputs);
  ma.dispose();
  mb.dispose();
  let s = 0;
  for (let i = 0; i < pa!.length; i++) s += (pa![i]! - pb![i]!) ** 2;
  return s / pa!.length;
}

function firstHalf(a: ChannelAnalysis, producer: string): Set<number> {
  const classes = [...a.producerClasses.get(producer)!];
  return new Set(classes.slice(0, classes.length / 2));
}

/** in 7x7x2 → conv_p (6, 3x3 same, relu) → conv_q (geometry under test, linear) → GAP → Dense(2): a linear readout. */
function convConsumer(q: Record<string, unknown>): tf.LayersModel {
  const input = tf.input({ shape: [7, 7, 2] });
  const p = tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv_p' }).apply(input) as tf.SymbolicTensor;
  const c = tf.layers.conv2d({ filters: 4, kernelSize: 3, name: 'conv_q', ...q }).apply(p) as tf.SymbolicTensor;
  const g = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(c) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'head' }).apply(g) as tf.SymbolicTensor;
  return randomizeWeights(tf.model({ inputs: input, outputs: out }), 8);
}

const geometries: Record<string, Record<string, unknown>> = {
  'stride 2, same padding': { strides: 2, padding: 'same' },
  'dilation 2, valid padding': { dilationRate: 2, padding: 'valid' },
  'kernel 2x3, strides [2, 1], same padding': { kernelSize: [2, 3], strides: [2, 1], padding: 'same' },
};

for (const [label, geometry] of Object.entries(geometries)) {
  test(`Conv2D consumer (${label}): the refit lowers the error of the outputs, measured by tfjs on fresh inputs`, async () => {
    const m = convConsumer(geometry);
    const ir = await irFromTfjsModel(m);
    m.dispose();
    const a = analyzeChannels(ir);
    const removed = firstHalf(a, 'conv_p');
    const pruned = removeChannels(ir, a, removed);
    const r = await createReconstructor(ir, { calibration: randomInputSet([7, 7, 2], 48, 5), batchSize: 16, ridge: 1e-4, maxRows: 4096, seed: 1 });
    const { ir: rebuilt, fits } = await r.run(pruned, reconstructionTargets(a, removed));
    r.dispose();
    assert.deepEqual(fits.map((f) => f.layer), ['conv_q']);
    assert.ok(fits[0]!.mseAfter < fits[0]!.mseBefore * 0.9, JSON.stringify(fits));
    const [before, after] = [await outputError(ir, pruned), await outputError(ir, rebuilt)];
    assert.ok(after < before * 0.9, `output error ${before} → ${after}`);
  });
}

test('a removed channel that duplicates a kept one is recovered exactly (its weights fold into the twin)', async () => {
  const m = convConsumer({ strides: 2, padding: 'same' });
  const ir = await irFromTfjsModel(m);
  m.dispose();
  // conv_p's filter 5 := filter 0 (kernel and bias): channel 5 carries exactly channel 0's values.
  const p = ir.layers.find((l) => l.name === 'conv_p')!;
  const [kernel, bias] = [p.weights[0]!, p.weights[1]!];
  for (let i = 0; i < kernel.values.length; i += 6) kernel.values[i + 5] = kernel.values[i]!;
  bias.values[5] = bias.values[0]!;
  const a = analyzeChannels(ir);
  const removed = new Set([a.producerClasses.get('conv_p')![5]!]);
  const pruned = removeChannels(ir, a, removed);
  const r = await createReconstructor(ir, { calibration: randomInputSet([7, 7, 2], 32, 5), batchSize: 16, ridge: 1e-7, maxRows: 4096, seed: 1 });
  const { ir: rebuilt, fits } = await r.run(pruned, reconstructionTargets(a, removed));
  r.dispose();
  assert.ok(fits[0]!.mseBefore > 1e-3);
  assert.ok(fits[0]!.mseAfter < 1e-8, JSON.stringify(fits));
  assert.ok((await outputError(ir, rebuilt)) < 1e-8);
});

test('Flatten → Dense consumer, primal and dual (fewer calibration rows than features) both reduce the error', async () => {
  for (const samples of [200, 12]) {
    const m = sequentialCnn(4);
    const ir = await irFromTfjsModel(m);
    m.dispose();
    const a = analyzeChannels(ir);
    const removed = firstHalf(a, 'conv');
    const pruned = removeChannels(ir, a, removed);
    const r = await createReconstructor(ir, { calibration: randomInputSet([8, 8, 1], samples, 6), batchSize: 32, ridge: 1e-3, maxRows: 4096, seed: 1 });
    const { ir: rebuilt, fits } = await r.run(pruned, reconstructionTargets(a, removed));
    r.dispose();
    assert.equal(fits[0]!.features, 18); // 3x3 positions × 2 kept channels
    assert.ok(fits[0]!.mseAfter < fits[0]!.mseBefore, JSON.stringify(fits));
    if (samples > 18) assert.ok((await outputError(ir, rebuilt)) < (await outputError(ir, pruned)));
  }
});

test('consumers of silenced channels are left as they are (nothing to correct)', async () => {
  const m = sequentialCnn(5);
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const a = analyzeChannels(ir);
  const removed = new Set([...firstHalf(a, 'conv'), ...firstHalf(a, 'fc1')]);
  silenceClasses(ir, a, [...removed]);
  const pruned = removeChannels(ir, a, removed);
  const r = await createReconstructor(ir, { calibration: randomInputSet([8, 8, 1], 64, 7), batchSize: 32, ridge: 1e-3, maxRows: 4096, seed: 1 });
  const { ir: rebuilt, fits } = await r.run(pruned, reconstructionTargets(a, removed));
  r.dispose();
  assert.deepEqual(fits.map((f) => f.layer), ['fc1', 'fc2']);
  for (const f of fits) assert.ok(f.mseBefore < 1e-10, JSON.stringify(f));
  assert.ok((await outputError(pruned, rebuilt)) < 1e-10);
});

test('rows per fit follow the memory budget and reconstructionRows, not the number of calibration images', async () => {
  const m = convConsumer({ strides: 1, padding: 'same' });
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const rowsFor = async (images: number, memoryBytes: number, maxRows = 8192) => {
    const r = await createReconstructor(ir, { calibration: randomInputSet([7, 7, 2], images, 5), ridge: 1e-3, maxRows, memoryBytes, seed: 1 });
    const rows = r.rowsOf('conv_q')!;
    r.dispose();
    return rows;
  };
  // 7×7 positions per image: 40 images have 1,960 rows, 400 images 19,600; the cap and the budget decide.
  assert.equal(await rowsFor(40, 2 ** 30), 40 * 49);
  assert.equal(await rowsFor(400, 2 ** 30), 8192);
  assert.equal(await rowsFor(4000, 2 ** 30), 8192);
  assert.equal(await rowsFor(4000, 2 ** 30, 1000), 1000);
  assert.ok((await rowsFor(4000, 2 ** 20)) < 8192);
  assert.equal(await rowsFor(4000, 2 ** 20), await rowsFor(400, 2 ** 20));
});

test('from the cut: with several passes only the pruned part runs, on the input model\'s activations there, and the fits match the whole model\'s', async () => {
  const m = depthwiseChain();
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const a = analyzeChannels(ir);
  // sep's filters and fc's units: fc (reading sep's channels through the Flatten) and out (reading fc) are two
  // waves; everything before sep is unchanged, so the cut is the activation sep reads.
  const removed = new Set([...firstHalf(a, 'sep'), ...firstHalf(a, 'fc')]);
  const pruned = removeChannels(ir, a, removed);
  const targets = reconstructionTargets(a, removed);
  const calibration = randomInputSet([10, 10, 2], 40, 9);
  const rebuild = async (fromCut: boolean) => {
    const r = await createReconstructor(ir, { calibration, batchSize: 16, ridge: 1e-3, maxRows: 4096, seed: 1, fromCut });
    try {
      return await r.run(pruned, targets);
    } finally {
      r.dispose();
    }
  };
  const [viaCut, whole] = [await rebuild(true), await rebuild(false)];
  assert.deepEqual(viaCut.cut, ['act']);
  assert.equal(whole.cut, undefined);
  assert.deepEqual(viaCut.fits.map((f) => f.layer), ['fc', 'out']);
  assert.deepEqual(viaCut.fits.map((f) => [f.layer, f.rows]), whole.fits.map((f) => [f.layer, f.rows]));
  // The same rows up to float reassociation at the graph boundary: the same fits and weights to 1e-4.
  viaCut.fits.forEach((f, i) => {
    const w = whole.fits[i]!;
    assert.ok(Math.abs(f.mseAfter - w.mseAfter) <= 1e-4 * Math.max(w.mseAfter, 1e-12) + 1e-12, `${f.layer}: ${f.mseAfter} vs ${w.mseAfter}`);
  });
  for (const layer of ['fc', 'out']) {
    const [x, y] = [viaCut.ir, whole.ir].map((model) => model.layers.find((l) => l.name === layer)!.weights.find((w) => w.name === 'kernel')!.values);
    let [diff, scale] = [0, 0];
    for (let i = 0; i < x!.length; i++) [diff, scale] = [Math.max(diff, Math.abs(x![i]! - y![i]!)), Math.max(scale, Math.abs(y![i]!))];
    assert.ok(diff <= 1e-4 * scale, `${layer}: max |Δ| ${diff} of ${scale}`);
  }
  assert.ok((await outputError(ir, viaCut.ir)) < (await outputError(ir, pruned)));
});
