/**
 * ORT training step vs tfjs (cpu backend) for the recurrent layers: the layer unrolled over its steps and
 * backpropagation through time (pipeline/layers/recurrent/bptt.ts). Gradients of kernel, recurrent kernel and bias,
 * the loss and the weights after one step agree to 1e-5, for SimpleRNN, LSTM and GRU (tfjs's default hard_sigmoid
 * gates and sigmoid ones), go_backwards, return_sequences either way, stacked, without bias, and Bidirectional.
 */
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { assertClose, compareStep, irOf } from './helpers.ts';

before(async () => {
  await initEngine('cpu');
});

const cell = (l: string, bias = true) => [`${l}/kernel`, `${l}/recurrent_kernel`, ...(bias ? [`${l}/bias`] : [])];
const head = ['head/kernel', 'head/bias'];

test('Reshape → LSTM (hard_sigmoid gates, go_backwards, sequences) → GRU (sigmoid gates, last step) → Dense', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [5, 3, 1], name: 'in' }));
  m.add(tf.layers.reshape({ targetShape: [5, 3], name: 'rows' }));
  m.add(tf.layers.lstm({ units: 4, returnSequences: true, goBackwards: true, name: 'lstm' }));
  m.add(tf.layers.gru({ units: 3, recurrentActivation: 'sigmoid', name: 'gru' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  assertClose(await compareStep(await irOf(m), { batch: 4 }), [...cell('lstm'), ...cell('gru'), ...head]);
});

test('SimpleRNN (relu, no bias, sequences) → Flatten → Dense, and a GRU going backwards with hard_sigmoid gates', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [4, 3], name: 'in' }));
  m.add(tf.layers.simpleRNN({ units: 3, activation: 'relu', useBias: false, returnSequences: true, name: 'rnn' }));
  m.add(tf.layers.gru({ units: 2, goBackwards: true, returnSequences: true, name: 'gru' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  assertClose(await compareStep(await irOf(m), { batch: 3 }), [...cell('rnn', false), ...cell('gru'), ...head]);
});

test('Bidirectional LSTM (concat, sequences) → Bidirectional GRU (mul) → Dense', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [4, 2], name: 'in' }));
  m.add(tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3, returnSequences: true, name: 'l' }) as never, name: 'bi_l' }));
  m.add(tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2, recurrentActivation: 'sigmoid', name: 'g' }) as never, mergeMode: 'mul', name: 'bi_g' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const keys = [...cell('bi_l/forward_l'), ...cell('bi_l/backward_l'), ...cell('bi_g/forward_g'), ...cell('bi_g/backward_g'), ...head];
  assertClose(await compareStep(await irOf(m), { batch: 3 }), keys);
});
