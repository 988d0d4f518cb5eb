/**
 * Keras files written by h5py as tf.keras 2 saves them: a text classifier (int32 ids → Embedding → LSTM → Dense)
 * read with its ids as float32, and an image model whose augmentation layers (RandomFlip, RandomRotation, inside a
 * nested data-augmentation Sequential as Keras's tutorials build it) are left out because they are the identity at
 * inference. Each model slimnet loads runs on tfjs against the same network built directly in tfjs with the file's
 * weights (mask_zero true and false). RandomCrop (it crops at inference) is refused in one line naming the layer.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { isSlimnetError } from '../../../../pipeline/errors.ts';
import { createPredictor } from '../../../../pipeline/evaluate.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { needsValidator } from '../../../helpers/validators.ts';

const SCRIPT = path.resolve('test/fixtures/keras/write_legacy_h5.py');
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-keras-embedding-'));
  await initEngine('wasm');
});

interface Weight { name: string; shape: number[]; values: number[] }

function values(shape: number[], rng: ReturnType<typeof createRng>): number[] {
  return Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.next() - 0.5);
}

function writeH5(python: string, file: string, modelConfig: unknown, layers: { name: string; weights: Weight[] }[]): void {
  const r = spawnSync(python, [SCRIPT], { input: JSON.stringify({ path: file, model_config: modelConfig, keras_version: '2.15.0', layers }), encoding: 'utf8' });
  assert.equal(r.status, 0, `h5py fixture writer failed: ${r.stderr}`);
}

const dense = (name: string, units: number, activation: string) => ({
  class_name: 'Dense', config: { name, trainable: true, dtype: 'float32', units, activation, use_bias: true, kernel_initializer: { class_name: 'GlorotUniform', config: { seed: null } }, bias_initializer: { class_name: 'Zeros', config: {} }, kernel_regularizer: null, bias_regularizer: null, activity_regularizer: null, kernel_constraint: null, bias_constraint: null },
});

function textConfig(maskZero: boolean) {
  return {
    class_name: 'Sequential', config: {
      name: 'text', layers: [
        { class_name: 'InputLayer', config: { batch_input_shape: [null, 6], dtype: 'int32', sparse: false, ragged: false, name: 'tokens' } },
        { class_name: 'Embedding', config: { name: 'embedding', trainable: true, dtype: 'float32', batch_input_shape: [null, 6], input_dim: 7, output_dim: 3, embeddings_initializer: { class_name: 'RandomUniform', config: { minval: -0.05, maxval: 0.05, seed: null } }, embeddings_regularizer: null, activity_regularizer: null, embeddings_constraint: null, mask_zero: maskZero, input_length: 6 } },
        { class_name: 'LSTM', config: { name: 'lstm', trainable: true, dtype: 'float32', return_sequences: false, return_state: false, go_backwards: false, stateful: false, unroll: false, time_major: false, units: 2, activation: 'tanh', recurrent_activation: 'sigmoid', use_bias: true, unit_forget_bias: true, dropout: 0.0, recurrent_dropout: 0.0, implementation: 2 } },
        dense('dense', 2, 'softmax'),
      ],
    },
  };
}

for (const maskZero of [false, true]) {
  test(`tf.keras 2 text classifier (mask_zero=${maskZero}): int32 ids read as float32 ids, Embedding → LSTM → Dense as tfjs computes it`, async (t) => {
    const python = needsValidator(t, 'h5py');
    if (!python) return;
    const rng = createRng(5);
    const w = {
      embeddings: values([7, 3], rng), kernel: values([3, 8], rng), recurrent: values([2, 8], rng), bias: values([8], rng), dk: values([2, 2], rng), db: values([2], rng),
    };
    const file = path.join(dir, `text-${maskZero}.h5`);
    writeH5(python, file, textConfig(maskZero), [
      { name: 'embedding', weights: [{ name: 'embedding/embeddings:0', shape: [7, 3], values: w.embeddings }] },
      { name: 'lstm', weights: [
        { name: 'lstm/lstm_cell/kernel:0', shape: [3, 8], values: w.kernel },
        { name: 'lstm/lstm_cell/recurrent_kernel:0', shape: [2, 8], values: w.recurrent },
        { name: 'lstm/lstm_cell/bias:0', shape: [8], values: w.bias },
      ] },
      { name: 'dense', weights: [{ name: 'dense/kernel:0', shape: [2, 2], values: w.dk }, { name: 'dense/bias:0', shape: [2], values: w.db }] },
    ]);
    const { ir, notes } = await loadModel(file);
    assert.deepEqual(ir.layers.map((l) => l.className), ['InputLayer', 'Embedding', 'LSTM', 'Dense']);
    assert.ok(notes.some((n) => /int32 input read as float32/.test(n)), notes.join('\n'));

    const m = tf.sequential();
    m.add(tf.layers.embedding({ inputShape: [6], inputDim: 7, outputDim: 3, maskZero }));
    m.add(tf.layers.lstm({ units: 2, recurrentActivation: 'sigmoid' }));
    m.add(tf.layers.dense({ units: 2, activation: 'softmax' }));
    m.setWeights([[w.embeddings, [7, 3]], [w.kernel, [3, 8]], [w.recurrent, [2, 8]], [w.bias, [8]], [w.dk, [2, 2]], [w.db, [2]]].map(([v, s]) => tf.tensor(v as number[], s as number[])));
    // Left-padded sequences (Keras's pad_sequences default) and a zero inside one.
    const ids = Float32Array.from([0, 0, 0, 3, 5, 1, 0, 2, 6, 0, 4, 4, 1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 6]);
    const want = (m.predict(tf.tensor(ids, [4, 6])) as tf.Tensor).dataSync();
    const predictor = await createPredictor(ir, 'tfjs');
    const got = await predictor.predict(ids, 4, [6]);
    predictor.dispose();
    got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-6, `output ${i}: ${v} vs ${want[i]}`));
  });
}

const augmentation = (extra: unknown[]) => ({
  class_name: 'Sequential', config: {
    name: 'data_augmentation', layers: [
      { class_name: 'InputLayer', config: { batch_input_shape: [null, 4, 4, 3], dtype: 'float32', sparse: false, ragged: false, name: 'augmentation_input' } },
      { class_name: 'RandomFlip', config: { name: 'random_flip', trainable: true, dtype: 'float32', mode: 'horizontal', seed: null } },
      { class_name: 'RandomRotation', config: { name: 'random_rotation', trainable: true, dtype: 'float32', factor: 0.1, fill_mode: 'reflect', fill_value: 0.0, interpolation: 'bilinear', seed: null } },
      ...extra,
    ],
  },
});

function imageConfig(extra: unknown[] = []) {
  const node = (name: string) => [[[name, 0, 0, {}]]];
  return {
    class_name: 'Functional', config: {
      name: 'images', layers: [
        { class_name: 'InputLayer', config: { batch_input_shape: [null, 4, 4, 3], dtype: 'float32', sparse: false, ragged: false, name: 'image' }, name: 'image', inbound_nodes: [] },
        { ...augmentation(extra), name: 'data_augmentation', inbound_nodes: node('image') },
        { class_name: 'RandomContrast', config: { name: 'random_contrast', trainable: true, dtype: 'float32', factor: 0.2, seed: null }, name: 'random_contrast', inbound_nodes: node('data_augmentation') },
        { class_name: 'Conv2D', config: { name: 'conv2d', trainable: true, dtype: 'float32', filters: 2, kernel_size: [3, 3], strides: [1, 1], padding: 'valid', data_format: 'channels_last', dilation_rate: [1, 1], groups: 1, activation: 'relu', use_bias: true }, name: 'conv2d', inbound_nodes: node('random_contrast') },
        { class_name: 'Flatten', config: { name: 'flatten', trainable: true, dtype: 'float32', data_format: 'channels_last' }, name: 'flatten', inbound_nodes: node('conv2d') },
        { ...dense('dense', 2, 'linear'), name: 'dense', inbound_nodes: node('flatten') },
      ],
      input_layers: [['image', 0, 0]], output_layers: [['dense', 0, 0]],
    },
  };
}

test('augmentation layers (a nested RandomFlip/RandomRotation Sequential, RandomContrast) are left out: the model is its conv head', async (t) => {
  const python = needsValidator(t, 'h5py');
  if (!python) return;
  const rng = createRng(7);
  const w = { k: values([3, 3, 3, 2], rng), b: values([2], rng), dk: values([8, 2], rng), db: values([2], rng) };
  const file = path.join(dir, 'augmented.h5');
  writeH5(python, file, imageConfig(), [
    { name: 'conv2d', weights: [{ name: 'conv2d/kernel:0', shape: [3, 3, 3, 2], values: w.k }, { name: 'conv2d/bias:0', shape: [2], values: w.b }] },
    { name: 'dense', weights: [{ name: 'dense/kernel:0', shape: [8, 2], values: w.dk }, { name: 'dense/bias:0', shape: [2], values: w.db }] },
  ]);
  const { ir, notes } = await loadModel(file);
  assert.deepEqual(ir.layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'Flatten', 'Dense']);
  assert.equal(notes.filter((n) => /is the identity at inference; left out/.test(n)).length, 3, notes.join('\n'));

  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [4, 4, 3], filters: 2, kernelSize: 3, activation: 'relu' }));
  m.add(tf.layers.flatten());
  m.add(tf.layers.dense({ units: 2 }));
  m.setWeights([tf.tensor(w.k, [3, 3, 3, 2]), tf.tensor(w.b, [2]), tf.tensor(w.dk, [8, 2]), tf.tensor(w.db, [2])]);
  const x = Float32Array.from({ length: 2 * 48 }, () => rng.next());
  const want = (m.predict(tf.tensor(x, [2, 4, 4, 3])) as tf.Tensor).dataSync();
  const predictor = await createPredictor(ir, 'tfjs');
  const got = await predictor.predict(x, 2, [4, 4, 3]);
  predictor.dispose();
  got.forEach((v, i) => assert.ok(Math.abs(v - want[i]!) <= 1e-6, `output ${i}: ${v} vs ${want[i]}`));
});

test('RandomCrop (it crops at inference) is refused in one line naming the layer', async (t) => {
  const python = needsValidator(t, 'h5py');
  if (!python) return;
  const file = path.join(dir, 'crop.h5');
  writeH5(python, file, imageConfig([{ class_name: 'RandomCrop', config: { name: 'random_crop', trainable: true, dtype: 'float32', height: 3, width: 3, seed: null } }]), []);
  await assert.rejects(loadModel(file), (e: unknown) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && /layer "data_augmentation\/random_crop|random_crop" \(RandomCrop\)/.test(e.where) && !/\n/.test(e.oneLine()));
});
