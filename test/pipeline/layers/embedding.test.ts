/**
 * The embedding family against tfjs: Embedding before a recurrent layer, a Dense and a Flatten — shapes, params,
 * MACs, ONNX (Cast + Gather) and float32 TFLite (CAST + GATHER) outputs on integer ids; its channel rule (output_dim
 * prunes with its consumer); per-row quantisation; an ORT training step (the table's scattered gradient, a repeated
 * id summing its rows); the strict parse, mask_zero refused in one line.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { layerClass } from '../../../pipeline/layers/registry.ts';
import { randomizeWeights } from '../../fixtures/models.ts';
import { assertClose, compareStep } from '../train/ort/helpers.ts';
import { caseTests, expectConfigErrors, UNDER, type LayerCase } from './harness.ts';

const none = () => 0;
const VOCAB = 11;
const embed = (outputDim = 4, inputLength?: number) => tf.layers.embedding({ inputDim: VOCAB, outputDim, inputLength, name: UNDER });

const cases: LayerCase[] = [
  { name: 'before_lstm', inputShape: [5], ids: VOCAB, layers: () => [embed(4), tf.layers.lstm({ units: 3 }), tf.layers.dense({ units: 2 })], macs: none },
  { name: 'before_dense_on_sequence', inputShape: [3], ids: VOCAB, layers: () => [embed(6, 3), tf.layers.dense({ units: 2 })], macs: none },
  { name: 'before_flatten', inputShape: [4], ids: VOCAB, layers: () => [embed(3), tf.layers.flatten(), tf.layers.dense({ units: 2 })], macs: none },
];

caseTests('embedding', cases);

test('channels: output_dim prunes together with the LSTM kernel rows that read it; the table quantises per row', async () => {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputShape: [5], inputDim: VOCAB, outputDim: 4, name: 'emb' }));
  m.add(tf.layers.lstm({ units: 3, name: 'rnn' }));
  m.add(tf.layers.dense({ units: 2, name: 'head' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 2));
  const g = analyzeChannels(ir).groups.find((x) => x.members.some((mm) => mm.layer === 'emb'))!;
  assert.equal(g.blocked.size, 0);
  assert.equal(g.classes.length, 4);
  assert.ok(g.members.some((mm) => mm.layer === 'rnn'), 'the LSTM kernel rows follow the embedding columns');
  const emb = ir.layers.find((l) => l.name === 'emb')!;
  assert.deepEqual(layerClass('Embedding')!.quantizationAxis!(emb, { name: 'embeddings', shape: [VOCAB, 4] }), { shape: [VOCAB, 4], axis: 0 });
});

test('ORT training step through Embedding → GRU → Dense matches tfjs (repeated ids sum their rows)', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [6], name: 'in' }));
  m.add(tf.layers.embedding({ inputDim: 5, outputDim: 3, name: 'emb' }));
  m.add(tf.layers.gru({ units: 2, recurrentActivation: 'sigmoid', name: 'rnn' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 3));
  // 4 samples × 6 steps over 5 ids: every row is read, most of them several times.
  assertClose(await compareStep(ir, { batch: 4, integerInputs: 5 }), ['emb/embeddings', 'rnn/kernel', 'rnn/recurrent_kernel', 'rnn/bias', 'head/kernel', 'head/bias']);
});

test('the config parse: dims required and positive, input_length checked against the input, mask_zero refused in one line', () => {
  expectConfigErrors([
    ['Embedding', { output_dim: 3 }, 'MODEL_INVALID', /config\.input_dim/],
    ['Embedding', { input_dim: 0, output_dim: 3 }, 'MODEL_INVALID', /config\.input_dim/],
    ['Embedding', { input_dim: 4, output_dim: 2.5 }, 'MODEL_INVALID', /config\.output_dim/],
    ['Embedding', { input_dim: 4, output_dim: 2, input_length: 'x' }, 'MODEL_INVALID', /config\.input_length/],
    ['Embedding', { input_dim: 4, output_dim: 2, mask_zero: true }, 'LAYER_UNSUPPORTED', /config\.mask_zero/],
  ]);
});
