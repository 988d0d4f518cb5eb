/**
 * Pruning hidden units of recurrent layers. Unit j of a cell owns column j of every gate block of kernel,
 * recurrent_kernel and bias, row j of recurrent_kernel, and its consumers' input j. The equivalence: when row j of
 * the recurrent kernel and every consumer's input j are zero, nothing reads h_j — not the next step, not the next
 * layer — so removing unit j (all of its slices) must leave the model's outputs exactly as they were. A removal that
 * missed one gate block, sliced the recurrent kernel on one axis only, or forgot the consumer changes them.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels, type ChannelAnalysis } from '../../../pipeline/graph/channel-groups.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { countParams, type ModelIR } from '../../../pipeline/ir.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../../pipeline/io/write-model.ts';
import { removeChannels } from '../../../pipeline/prune/remove-channels.ts';
import { predictFlat, randomInputs, randomizeWeights } from '../../fixtures/models.ts';

let dir: string;
before(async () => {
  await initEngine('wasm');
  dir = await mkdtemp(join(tmpdir(), 'slimnet-prune-rnn-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor) => layer.apply(x) as tf.SymbolicTensor;

/** Reshape rows → LSTM (sequences) → GRU (backwards, last step) → Dense → Dense(softmax). */
function stacked(): tf.LayersModel {
  const input = tf.input({ shape: [6, 4, 1], name: 'img' });
  let x = apply(tf.layers.reshape({ targetShape: [6, 4], name: 'rows' }), input);
  x = apply(tf.layers.lstm({ units: 6, returnSequences: true, recurrentActivation: 'sigmoid', name: 'lstm' }), x);
  x = apply(tf.layers.gru({ units: 5, goBackwards: true, name: 'gru' }), x);
  x = apply(tf.layers.dense({ units: 4, activation: 'relu', name: 'fc' }), x);
  x = apply(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }), x);
  return randomizeWeights(tf.model({ inputs: input, outputs: x }), 4);
}

/** SimpleRNN (sequences) → Flatten → Dense, and Bidirectional LSTM (concat) → Bidirectional GRU (ave) → Dense. */
function flattenAndBidirectional(): tf.LayersModel {
  const input = tf.input({ shape: [5, 3], name: 'seq' });
  let x = apply(tf.layers.simpleRNN({ units: 4, returnSequences: true, name: 'rnn' }), input);
  x = apply(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 4, returnSequences: true, name: 'l' }) as never, name: 'bi_l' }), x);
  x = apply(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 4, returnSequences: true, name: 'g' }) as never, mergeMode: 'ave', name: 'bi_g' }), x);
  x = apply(tf.layers.flatten({ name: 'flat' }), x);
  x = apply(tf.layers.dense({ units: 3, name: 'out' }), x);
  return randomizeWeights(tf.model({ inputs: input, outputs: x }), 5);
}

/** Zeroes what reads the given classes: consumers' inputs ('in') and the recurrent kernels' rows (h_j's feedback). */
function silenceReaders(ir: ModelIR, analysis: ChannelAnalysis, classes: Set<number>): void {
  for (const b of analysis.bindings) {
    const feedback = /recurrent_kernel$/.test(b.weight) && b.axis === 0;
    if (b.role !== 'in' && !feedback) continue;
    const w = ir.layers.find((l) => l.name === b.layer)!.weights.find((x) => x.name === b.weight)!;
    const n = w.shape[b.axis]!;
    const inner = w.shape.slice(b.axis + 1).reduce((p, q) => p * q, 1);
    for (let i = 0; i < w.values.length; i++) if (classes.has(b.classes[Math.floor(i / inner) % n]!)) w.values[i] = 0;
  }
}

async function removalIsExact(build: () => tf.LayersModel, expectUnits: Record<string, number>): Promise<void> {
  const original = build();
  const ir = await irFromTfjsModel(original);
  original.dispose();
  const analysis = analyzeChannels(ir);
  const removed = new Set<number>();
  for (const g of analysis.groups) g.classes.filter((k) => !g.blocked.has(k)).forEach((k, i) => i % 2 === 0 && removed.add(k));
  silenceReaders(ir, analysis, removed);
  const pruned = removeChannels(ir, analysis, removed);
  assert.ok(countParams(pruned) < countParams(ir));
  const shapes = inferShapes(pruned);
  for (const [layer, units] of Object.entries(expectUnits)) assert.equal(shapes.get(layer)!.at(-1), units, layer);

  const reference = await buildTfjsModel(ir);
  const inputs = randomInputs(reference, 4, 3);
  const [want] = await predictFlat(reference, inputs);
  const { modelJsonPath } = await writeModel(pruned, join(dir, ir.layers[1]!.name));
  const stock = await tf.loadLayersModel(fileLoadHandler(modelJsonPath));
  const [got] = await predictFlat(stock, inputs);
  let maxDiff = 0;
  for (let i = 0; i < want!.length; i++) maxDiff = Math.max(maxDiff, Math.abs(want![i]! - got![i]!));
  assert.ok(maxDiff <= 1e-5, `max |Δ| ${maxDiff}`);
  assert.equal(stock.countParams(), countParams(pruned));
  tf.dispose(inputs);
  reference.dispose();
  stock.dispose();
}

test('LSTM → GRU → Dense: removing unread hidden units (all gate blocks, recurrent rows and columns, the consumer rows) is exact', async () => {
  await removalIsExact(stacked, { lstm: 3, gru: 2, fc: 2 });
});

test('SimpleRNN → Flatten, Bidirectional concat and ave: forward and backward unit j leave together; exact', async () => {
  // bi_l concat: 4 units per direction → 2, output 4; bi_g ave: 2 units, output 2.
  await removalIsExact(flattenAndBidirectional, { rnn: 2, bi_l: 4, bi_g: 2 });
});

test("a recurrent layer that is the model's output keeps its units", async () => {
  const m = tf.sequential();
  m.add(tf.layers.lstm({ inputShape: [4, 3], units: 5, name: 'only' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 1));
  const analysis = analyzeChannels(ir);
  const mine = analysis.groups.filter((g) => g.members.some((x) => x.layer === 'only'));
  assert.ok(mine.length > 0);
  for (const g of mine) assert.equal(g.blocked.size, g.classes.length);
});
