import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels, type ChannelAnalysis } from '../../../pipeline/graph/channel-groups.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { countParams, type ModelIR, type WeightIR } from '../../../pipeline/ir.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../../pipeline/io/write-model.ts';
import { classesFromHistory, replayPruning } from '../../../pipeline/prune/history.ts';
import { removeChannels, removedProducerChannels, sliceAxis } from '../../../pipeline/prune/remove-channels.ts';
import { functionalResidual, predictFlat, randomInputs, sequentialCnn } from '../../fixtures/models.ts';
import { checkStorage, quantizeModel, quantizeWeight, storageDtype } from '../../../pipeline/weight-storage.ts';
import { depthwiseChain, residualConcat, silenceClasses } from './prunable-models.ts';

let dir: string;
before(async () => {
  await initEngine('wasm');
  dir = await mkdtemp(join(tmpdir(), 'slimnet-prune-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Every other removable class of every group, starting with the first. */
function everyOther(a: ChannelAnalysis): Set<number> {
  const removed = new Set<number>();
  for (const g of a.groups) g.classes.filter((k) => !g.blocked.has(k)).forEach((k, i) => i % 2 === 0 && removed.add(k));
  return removed;
}

const models = {
  'Flatten → Dense (sequential CNN)': sequentialCnn,
  'residual Add + BatchNormalization + Concatenate, GlobalAveragePooling → Dense': functionalResidual,
  'DepthwiseConv2D + SeparableConv2D + BatchNormalization, Flatten → Dense': depthwiseChain,
  'Add + Concatenate + Multiply gate, strided conv → GlobalAveragePooling → Dense': residualConcat,
};

for (const [name, build] of Object.entries(models)) {
  test(`${name}: removing silenced channels leaves predictions unchanged; stock tfjs loads the smaller model`, async () => {
    const original = build();
    const ir = await irFromTfjsModel(original);
    original.dispose();
    const analysis = analyzeChannels(ir);
    const removed = everyOther(analysis);
    assert.ok(removed.size > 0);
    silenceClasses(ir, analysis, [...removed]);
    const pruned = removeChannels(ir, analysis, removed);
    assert.ok(countParams(pruned) < countParams(ir));

    // Shapes: every producer's last axis shrank by exactly the channels it lost, per IR shape inference.
    const [before, after] = [inferShapes(ir), inferShapes(pruned)];
    for (const [producer, classes] of analysis.producerClasses) {
      const lost = [...classes].filter((k) => removed.has(k)).length;
      assert.equal(after.get(producer)!.at(-1), before.get(producer)!.at(-1)! - lost, producer);
    }

    const inputs = randomInputs(await buildTfjsModel(ir), 5, 3);
    const reference = await buildTfjsModel(ir);
    const [want] = await predictFlat(reference, inputs);
    const { modelJsonPath } = await writeModel(pruned, join(dir, name.replace(/\W+/g, '-')));
    const stock = await tf.loadLayersModel(fileLoadHandler(modelJsonPath));
    const [got] = await predictFlat(stock, inputs);
    let maxDiff = 0;
    for (let i = 0; i < want!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want![i]! - got![i]!));
    assert.ok(maxDiff <= 1e-5, `max |Δ| ${maxDiff}`);
    // The loaded model really has the smaller shapes.
    for (const layer of stock.layers) {
      const shape = after.get(layer.name)!;
      assert.deepEqual((layer.outputShape as number[]).slice(1), shape, layer.name);
    }
    assert.equal(stock.countParams(), countParams(pruned));
    tf.dispose(inputs);
    reference.dispose();
    stock.dispose();
  });
}

test('config follows the weights: filters and units shrink', async () => {
  const ir = await irFromTfjsModel(depthwiseChain());
  const a = analyzeChannels(ir);
  const pruned = removeChannels(ir, a, everyOther(a));
  const byName = (m: ModelIR, n: string) => m.layers.find((l) => l.name === n)!;
  assert.equal(byName(pruned, 'conv1').keras.filters, 3);
  assert.equal(byName(pruned, 'sep').keras.filters, 2);
  assert.equal(byName(pruned, 'fc').keras.units, 4);
  assert.equal(byName(pruned, 'out').keras.units, 3);
  assert.deepEqual(byName(pruned, 'dw').weights.map((w) => w.shape), [[3, 3, 3, 2], [6]]);
  assert.deepEqual(byName(pruned, 'sep').weights.map((w) => w.shape), [[3, 3, 6, 1], [1, 1, 6, 2], [2]]);
  assert.deepEqual(byName(pruned, 'bn1').weights.map((w) => w.shape), [[3], [3], [3], [3]]);
  // The original IR is untouched.
  assert.equal(byName(ir, 'conv1').keras.filters, 6);
});

test('sliceAxis keeps the requested indices of one axis', () => {
  const values = Float32Array.from({ length: 24 }, (_, i) => i);
  const w = sliceAxis({ name: 'k', shape: [2, 3, 4], values }, 1, [0, 2]);
  assert.deepEqual(w.shape, [2, 2, 4]);
  assert.deepEqual([...w.values], [0, 1, 2, 3, 8, 9, 10, 11, 12, 13, 14, 15, 20, 21, 22, 23]);
  assert.deepEqual([...sliceAxis({ name: 'k', shape: [2, 3, 4], values }, 2, [3]).values], [3, 7, 11, 15, 19, 23]);
});

test('removal keeps every weight\'s storage: uint8 stays uint8, per-channel int8 keeps its kept channels\' scales', async () => {
  const float = await irFromTfjsModel(depthwiseChain());
  const lastAxisInt8 = (w: WeightIR) => quantizeWeight(w, { dtype: 'int8', symmetric: true, axis: w.shape.length - 1 });
  const stored: Record<string, ModelIR> = {
    uint8: quantizeModel(float, { dtype: 'uint8' }),
    float16: quantizeModel(float, { dtype: 'float16' }),
    int8: { ...float, layers: float.layers.map((l) => ({ ...l, weights: l.weights.map(lastAxisInt8) })) },
  };
  for (const [dtype, ir] of Object.entries(stored)) {
    const a = analyzeChannels(ir);
    const pruned = removeChannels(ir, a, everyOther(a));
    for (const l of pruned.layers) {
      for (const w of l.weights) {
        assert.equal(storageDtype(w), dtype, `${l.name}/${w.name}`);
        checkStorage(w, `${l.name}/${w.name}`);
      }
    }
    // The pruned model still writes and loads in stock tfjs as what the IR computes.
    const out = await writeModel(pruned, join(dir, `stored-${dtype}`));
    const [stock, fromIr] = [await tf.loadLayersModel(fileLoadHandler(out.modelJsonPath)), await buildTfjsModel(pruned)];
    const x = randomInputs(stock);
    assert.deepEqual(await predictFlat(stock, x), await predictFlat(fromIr, x), dtype);
    tf.dispose(x);
    stock.dispose();
    fromIr.dispose();
  }
  // conv1 loses output channels 0, 2, 4: its kernel keeps exactly the scales of channels 1, 3, 5.
  const kernelScales = (m: ModelIR) => (m.layers.find((l) => l.name === 'conv1')!.weights[0]!.storage as { scales: number[] }).scales;
  const a = analyzeChannels(stored.int8!);
  const before = kernelScales(stored.int8!);
  assert.deepEqual(kernelScales(removeChannels(stored.int8!, a, everyOther(a))), [before[1], before[3], before[5]]);
});

test('refuses to remove a blocked class or every channel of a layer', async () => {
  const ir = await irFromTfjsModel(sequentialCnn());
  const a = analyzeChannels(ir);
  assert.throws(() => removeChannels(ir, a, new Set([a.producerClasses.get('fc2')![0]!])), /blocked/);
  assert.throws(() => removeChannels(ir, a, new Set(a.producerClasses.get('conv')!)), /every channel of layer "conv"/);
});

test('the pruning history replays to the same model and rejects inconsistent records', async () => {
  const ir = await irFromTfjsModel(functionalResidual());
  const a = analyzeChannels(ir);
  const removed = everyOther(a);
  const history = { version: 1 as const, criterion: 'l1', removed: removedProducerChannels(a, removed) };
  assert.deepEqual(history.removed, { conv_a: [0, 2], proj: [0, 2], side: [0] });
  assert.deepEqual(classesFromHistory(a, history), removed);
  assert.deepEqual(replayPruning(ir, JSON.parse(JSON.stringify(history))), removeChannels(ir, a, removed));
  // Listing one side of a residual pair only is not a valid record.
  assert.throws(() => classesFromHistory(a, { ...history, removed: { conv_a: [0] } }), /coupled to a removed channel/);
  assert.throws(() => classesFromHistory(a, { ...history, removed: { nope: [0] } }), /not a prunable producer/);
  assert.throws(() => classesFromHistory(a, { ...history, removed: { side: [7] } }), /no channel 7/);
});
