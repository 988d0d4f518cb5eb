/** The dropout/noise family: identity at inference (ONNX drops them), shapes and params as tfjs; strict parse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { caseTests, UNDER, type LayerCase, expectConfigErrors } from './harness.ts';

const none = () => 0;
const conv = () => tf.layers.conv2d({ filters: 3, kernelSize: 1 });

const cases: LayerCase[] = [
  { name: 'dropout_4d', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.dropout({ rate: 0.5, name: UNDER })], macs: none },
  { name: 'spatial_dropout_1d', inputShape: [6, 3], layers: () => [tf.layers.spatialDropout1d({ rate: 0.3, name: UNDER })], macs: none },
  { name: 'alpha_dropout', inputShape: [6], layers: () => [tf.layers.dense({ units: 4 }), tf.layers.alphaDropout({ rate: 0.2, name: UNDER })], macs: none },
  { name: 'gaussian_noise', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.gaussianNoise({ stddev: 1, name: UNDER })], macs: none },
  { name: 'gaussian_dropout', inputShape: [6], layers: () => [tf.layers.gaussianDropout({ rate: 0.5, name: UNDER }), tf.layers.dense({ units: 2 })], macs: none },
];

caseTests('dropout', cases);

test('the config parse is strict', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['Dropout', {}, /config\.rate/],
    ['Dropout', { rate: 1.5 }, /config\.rate/],
    ['Dropout', { rate: 0.5, noise_shape: [null, 0] }, /config\.noise_shape/],
    ['Dropout', { rate: 0.5, seed: -3 }, /config\.seed/],
    ['GaussianNoise', { stddev: -1 }, /config\.stddev/],
    ['GaussianDropout', { rate: 'half' }, /config\.rate/],
  ];
  expectConfigErrors(bad.map(([c, k, key]) => [c, k, 'MODEL_INVALID', key]));
});

