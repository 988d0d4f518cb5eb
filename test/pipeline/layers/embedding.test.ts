/**
 * The embedding family against tfjs: Embedding before a recurrent layer, a Dense and a Flatten — shapes, params,
 * MACs, ONNX (Cast + Gather) and float32 TFLite (CAST + GATHER) outputs on integer ids; its channel rule (output_dim
 * prunes with its consumer); per-row quantisation; an ORT training step (the table's scattered gradient, a repeated
 * id summing its rows); mask_zero: masked steps skipped by the recurrent layers after it in every export, the layers
 * that cannot honour a mask refused, shared-prefix cuts kept off masked tensors; the strict parse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { tfliteFormat, tfliteInt8Format } from '../../../pipeline/formats/tflite/format.ts';
import { findCut } from '../../../pipeline/graph/cut.ts';
import { cloneIR } from '../../../pipeline/ir.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { layerClass } from '../../../pipeline/layers/registry.ts';
import { randomizeWeights } from '../../fixtures/models.ts';
import { assertClose, compareStep } from '../train/ort/helpers.ts';
import { caseTests, expectConfigErrors, UNDER, type LayerCase } from './harness.ts';

const none = () => 0;
const VOCAB = 11;
const embed = (outputDim = 4, inputLength?: number) => tf.layers.embedding({ inputDim: VOCAB, outputDim, inputLength, name: UNDER });

const masked = (outputDim = 3) => tf.layers.embedding({ inputDim: 4, outputDim, maskZero: true, name: UNDER });

const cases: LayerCase[] = [
  { name: 'before_lstm', inputShape: [5], ids: VOCAB, layers: () => [embed(4), tf.layers.lstm({ units: 3 }), tf.layers.dense({ units: 2 })], macs: none },
  // mask_zero: ids 0..3, so a quarter of the steps (leading, trailing and inner ones) are masked.
  { name: 'mask_zero_lstm', inputShape: [7], ids: 4, layers: () => [masked(), tf.layers.lstm({ units: 3, recurrentActivation: 'sigmoid' }), tf.layers.dense({ units: 2 })], macs: none },
  { name: 'mask_zero_dropout_bidirectional_gru_then_backwards_rnn', inputShape: [6], ids: 4, layers: () => [
    masked(2), tf.layers.dropout({ rate: 0.3 }),
    tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2, returnSequences: true, recurrentActivation: 'sigmoid' }) as never, mergeMode: 'concat' }),
    tf.layers.simpleRNN({ units: 3, goBackwards: true }), tf.layers.dense({ units: 2 }),
  ], macs: none },
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

test('a mask read by a layer that cannot honour it, or a masked sequence as the output, is refused at read in one line', async () => {
  const build = (after: tf.layers.Layer[]) => {
    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputShape: [5], inputDim: 4, outputDim: 3, maskZero: true, name: 'emb' }));
    for (const l of after) m.add(l);
    return m;
  };
  const refused = async (after: tf.layers.Layer[], where: string, what: RegExp) => {
    const model = build(after);
    const ir = await irFromTfjsModel(randomizeWeights(model, 1)).then(() => undefined, (e: unknown) => e);
    assert.ok(isSlimnetError(ir) && ir.code === 'LAYER_UNSUPPORTED' && ir.where === where && what.test(ir.message) && !/\n/.test(ir.oneLine()), String(ir));
  };
  await refused([tf.layers.lstm({ units: 2, returnSequences: true, name: 'seq' })], 'layer "seq" (LSTM)', /mask of Embedding "emb".*model output/);
  await refused([tf.layers.lstm({ units: 2, returnSequences: true }), tf.layers.dense({ units: 2, name: 'per_step' })], 'layer "per_step" (Dense)', /mask of Embedding "emb"/);
});

test('a candidate that changes the LSTM after a masking Embedding is cut at the ids, never between the two', async () => {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputShape: [5], inputDim: 4, outputDim: 3, maskZero: true, name: 'emb' }));
  m.add(tf.layers.lstm({ units: 2, name: 'rnn' }));
  m.add(tf.layers.dense({ units: 2, name: 'head' }));
  const reference = await irFromTfjsModel(randomizeWeights(m, 1));
  const candidate = cloneIR(reference);
  candidate.layers.find((l) => l.name === 'rnn')!.weights[0]!.values[0]! += 1;
  assert.deepEqual(findCut(reference, candidate), { tensors: [reference.inputs[0]], suffix: ['emb', 'rnn', 'head'] });
  const headOnly = cloneIR(reference);
  headOnly.layers.find((l) => l.name === 'head')!.weights[0]!.values[0]! += 1;
  assert.deepEqual(findCut(reference, headOnly), { tensors: ['rnn'], suffix: ['head'] });
});

test('format coverage (slimnet inspect): TFLite float32 takes the text model, TFLite int8 names the Embedding it refuses', async () => {
  const m = tf.sequential();
  m.add(tf.layers.embedding({ inputShape: [5], inputDim: 4, outputDim: 3, maskZero: true, name: 'emb' }));
  m.add(tf.layers.lstm({ units: 2, name: 'rnn' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 1));
  assert.equal(await tfliteFormat.coverage(ir), undefined);
  assert.match((await tfliteInt8Format.coverage(ir))!, /^layer "emb" \(Embedding\): TFLite export does not support Embedding layers in int8/);
});

test('the config parse: dims required and positive, input_length checked against the input', () => {
  expectConfigErrors([
    ['Embedding', { output_dim: 3 }, 'MODEL_INVALID', /config\.input_dim/],
    ['Embedding', { input_dim: 0, output_dim: 3 }, 'MODEL_INVALID', /config\.input_dim/],
    ['Embedding', { input_dim: 4, output_dim: 2.5 }, 'MODEL_INVALID', /config\.output_dim/],
    ['Embedding', { input_dim: 4, output_dim: 2, input_length: 'x' }, 'MODEL_INVALID', /config\.input_length/],
  ]);
});
