/** The pooling family against tfjs: random window pools (TF 'same' semantics), 1-D pools, global pools; strict parse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { layer } from '../../fixtures/ir.ts';
import { caseTests, picker, UNDER, type LayerCase, expectConfigErrors } from './harness.ts';

const conv = (filters = 3) => tf.layers.conv2d({ filters, kernelSize: 1 });
const none = () => 0;

function pool2dCases(count: number): LayerCase[] {
  const p = picker(51);
  return Array.from({ length: count }, (_, i) => {
    const poolSize = p.bool() ? p.int(1, 3) : [p.int(1, 3), p.int(2, 3)];
    const args = { poolSize, strides: p.pick([undefined, 1, 2, [2, 1]]), padding: p.pick(['same', 'valid'] as const), name: UNDER } as Parameters<typeof tf.layers.maxPooling2d>[0];
    const max = p.bool();
    const pre = p.bool();
    return {
      name: `${max ? 'max' : 'avg'}pool2d_${i}`,
      inputShape: [p.int(5, 8), p.int(5, 8), p.int(1, 3)],
      // Pools straight on the NHWC input too: the transpose then comes from the pool itself.
      layers: () => [...(pre ? [conv()] : []), max ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args)],
      macs: none,
    };
  });
}

function pool1dCases(count: number): LayerCase[] {
  const p = picker(52);
  return Array.from({ length: count }, (_, i) => {
    const args = { poolSize: p.int(1, 3), strides: p.pick([undefined, 1, 2]), padding: p.pick(['same', 'valid'] as const), name: UNDER } as Parameters<typeof tf.layers.maxPooling1d>[0];
    const max = p.bool();
    // After a Conv1D the input is held channels first ([N, C, steps]); on the model input, as Keras has it.
    const pre = p.bool();
    return {
      name: `${max ? 'max' : 'avg'}pool1d_${i}`,
      inputShape: [p.int(5, 9), p.int(1, 3)],
      layers: () => [...(pre ? [tf.layers.conv1d({ filters: 3, kernelSize: 1 })] : []), max ? tf.layers.maxPooling1d(args) : tf.layers.averagePooling1d(args)],
      macs: none,
    };
  });
}

const cases: LayerCase[] = [
  // 'same' average pooling: windows at the border average only real inputs (count_include_pad = 0).
  { name: 'avgpool_same_stride2', inputShape: [6, 7, 2], layers: () => [conv(), tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: UNDER })], macs: none },
  ...pool2dCases(10),
  ...pool1dCases(6),
  { name: 'global_avg_2d', inputShape: [5, 6, 3], layers: () => [conv(4), tf.layers.globalAveragePooling2d({ name: UNDER }), tf.layers.dense({ units: 2 })], macs: none },
  { name: 'global_max_2d', inputShape: [4, 5, 2], layers: () => [conv(8), tf.layers.globalMaxPooling2d({ name: UNDER })], macs: none },
  { name: 'global_max_2d_on_input', inputShape: [5, 6, 3], layers: () => [tf.layers.globalMaxPooling2d({ name: UNDER })], macs: none },
  { name: 'global_avg_1d', inputShape: [6, 4], layers: () => [tf.layers.dense({ units: 3 }), tf.layers.globalAveragePooling1d({ name: UNDER })], macs: none },
  { name: 'global_max_1d', inputShape: [6, 4], layers: () => [tf.layers.globalMaxPooling1d({ name: UNDER })], macs: none },
  { name: 'global_avg_1d_after_conv1d', inputShape: [7, 2], layers: () => [tf.layers.conv1d({ filters: 3, kernelSize: 2 }), tf.layers.globalAveragePooling1d({ name: UNDER })], macs: none },
];

caseTests('pooling', cases);

test('the config parse is strict; strides default to the pool size', () => {
  const bad: Array<[string, Record<string, unknown>, 'MODEL_INVALID' | 'LAYER_UNSUPPORTED', RegExp]> = [
    ['MaxPooling2D', { pool_size: [2] }, 'MODEL_INVALID', /config\.pool_size/],
    ['MaxPooling2D', { pool_size: 0 }, 'MODEL_INVALID', /config\.pool_size/],
    ['AveragePooling2D', { strides: [2, 2, 2] }, 'MODEL_INVALID', /config\.strides/],
    ['AveragePooling2D', { padding: 'causal' }, 'LAYER_UNSUPPORTED', /config\.padding/],
    ['MaxPooling1D', { pool_size: 2.5 }, 'MODEL_INVALID', /config\.pool_size/],
    ['GlobalAveragePooling2D', { keepdims: true }, 'LAYER_UNSUPPORTED', /config\.keepdims/],
    ['GlobalMaxPooling1D', { data_format: 'channels_first' }, 'LAYER_UNSUPPORTED', /config\.data_format/],
  ];
  expectConfigErrors(bad);
  assert.deepEqual((layer('p', 'MaxPooling2D', ['in'], { pool_size: [3, 2] }).config as unknown as { strides: number[] }).strides, [3, 2]);
});

