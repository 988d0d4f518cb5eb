/** The reshaping family against tfjs: Flatten (NHWC order), Reshape (with the inferred dimension), Permute; strict parse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { caseTests, UNDER, type LayerCase, expectConfigErrors } from './harness.ts';

const conv = (filters = 3) => tf.layers.conv2d({ filters, kernelSize: 1 });
const none = () => 0;

const cases: LayerCase[] = [
  // Flatten must see NHWC element order, or the Dense after it multiplies the wrong weights.
  { name: 'flatten_dense', inputShape: [4, 3, 2], layers: () => [conv(5), tf.layers.flatten({ name: UNDER }), tf.layers.dense({ units: 3 })], macs: none },
  { name: 'flatten_input', inputShape: [3, 4, 2], layers: () => [tf.layers.flatten({ name: UNDER }), tf.layers.dense({ units: 2, activation: 'softmax' })], macs: none },
  { name: 'flatten_3d', inputShape: [5, 3], layers: () => [tf.layers.flatten({ name: UNDER })], macs: none },
  { name: 'reshape_after_conv', inputShape: [4, 4, 2], layers: () => [conv(6), tf.layers.reshape({ targetShape: [8, -1], name: UNDER })], macs: none },
  { name: 'reshape_then_dense', inputShape: [4, 4, 2], layers: () => [conv(6), tf.layers.reshape({ targetShape: [8, 12], name: UNDER }), tf.layers.dense({ units: 2 })], macs: none },
  { name: 'reshape_to_4d_then_conv', inputShape: [24], layers: () => [tf.layers.reshape({ targetShape: [2, 4, 3], name: UNDER }), conv(2)], macs: none },
  { name: 'reshape_rows', inputShape: [28, 28, 1], layers: () => [tf.layers.reshape({ targetShape: [28, 28], name: UNDER })], macs: none },
  { name: 'permute_2d', inputShape: [3, 5], layers: () => [tf.layers.permute({ dims: [2, 1], name: UNDER })], macs: none },
  { name: 'permute_3d', inputShape: [3, 4, 2], layers: () => [conv(2), tf.layers.permute({ dims: [3, 1, 2], name: UNDER })], macs: none },
];

caseTests('reshaping', cases);

test('the config parse is strict', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['Reshape', {}, /config\.target_shape/],
    ['Reshape', { target_shape: [2, null, -1] }, /config\.target_shape/],
    ['Reshape', { target_shape: [0, 4] }, /config\.target_shape/],
    ['Reshape', { target_shape: '4' }, /config\.target_shape/],
    ['Permute', { dims: [1, 1] }, /config\.dims/],
    ['Permute', { dims: [0, 1] }, /config\.dims/],
    ['Flatten', { data_format: 'nhwc' }, /config\.data_format/],
  ];
  expectConfigErrors(bad.map(([c, k, key]) => [c, k, 'MODEL_INVALID', key]));
});

