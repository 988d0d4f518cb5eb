/**
 * The activation family against tfjs: every activation name fused into Dense and as an Activation layer, the
 * advanced activation layers with random parameters (on NCHW-held tensors after a conv), Softmax, PReLU's weights,
 * and the strict parse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_NAMES } from '../../../pipeline/layers/activations/names.ts';
import { caseTests, picker, prod, UNDER, type LayerCase, expectConfigErrors } from './harness.ts';


type Identifier = Parameters<typeof tf.layers.dense>[0]['activation'];
// tfjs's API takes camelCase identifiers; model.json stores them snake_cased, which is what the IR sees.
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as Identifier;
const conv = (filters = 4) => tf.layers.conv2d({ filters, kernelSize: 1 });
const none = () => 0;

const cases: LayerCase[] = [
  ...ACTIVATION_NAMES.map((name): LayerCase => ({
    name: `dense_${name}`, inputShape: [6], layers: () => [tf.layers.dense({ units: 5, activation: camel(name), name: UNDER })], macs: (i, o) => i[0]! * o[0]!,
  })),
  ...ACTIVATION_NAMES.map((name): LayerCase => ({
    name: `activation_${name}_4d`, inputShape: [4, 3, 2], layers: () => [conv(3), tf.layers.activation({ activation: camel(name)!, name: UNDER })], macs: none,
  })),
  { name: 'conv_softmax', inputShape: [5, 4, 2], layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: 'softmax', name: UNDER })], macs: (i, o) => prod(o) * 4 * i[2]! },
  // tfjs only runs softmax on the last axis (it throws for others), so that is all there is to match.
  { name: 'softmax_4d', inputShape: [4, 5, 3], layers: () => [conv(3), tf.layers.softmax({ axis: -1, name: UNDER })], macs: none },
  { name: 'softmax_2d_default_axis', inputShape: [7], layers: () => [tf.layers.dense({ units: 4 }), tf.layers.softmax({ name: UNDER })], macs: none },
  { name: 'prelu_shared', inputShape: [4, 4, 3], layers: () => [conv(3), tf.layers.prelu({ sharedAxes: [1, 2], name: UNDER })], macs: none, onnx: false },
  { name: 'prelu_full', inputShape: [3, 5], layers: () => [tf.layers.prelu({ name: UNDER })], macs: none, onnx: false },
  ...(() => {
    const p = picker(41);
    return Array.from({ length: 4 }, (_, i): LayerCase[] => [
      { name: `relu_max_${i}`, inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.reLU({ maxValue: p.pick([undefined, 0.3, 1, 6]), name: UNDER })], macs: none },
      { name: `leaky_${i}`, inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.leakyReLU({ alpha: p.rng.next(), name: UNDER })], macs: none },
      { name: `thresholded_${i}`, inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.thresholdedReLU({ theta: p.rng.next() - 0.5, name: UNDER })], macs: none },
      { name: `elu_${i}`, inputShape: [6, p.int(2, 4)], layers: () => [tf.layers.dense({ units: 3 }), tf.layers.elu({ name: UNDER })], macs: none },
    ]).flat();
  })(),
];

caseTests('activation', cases);

test('the config parse is strict, and refuses Keras options tfjs ignores', () => {
  const bad: Array<[string, Record<string, unknown>, 'MODEL_INVALID' | 'LAYER_UNSUPPORTED', RegExp]> = [
    ['Activation', { activation: 'gelu_new' }, 'MODEL_INVALID', /config\.activation/],
    ['Activation', { activation: null, trainable: 'no' }, 'MODEL_INVALID', /config\.trainable/],
    ['ReLU', { max_value: -1 }, 'MODEL_INVALID', /config\.max_value/],
    ['ReLU', { negative_slope: 0.1 }, 'LAYER_UNSUPPORTED', /config\.negative_slope/],
    ['ReLU', { threshold: 1 }, 'LAYER_UNSUPPORTED', /config\.threshold/],
    ['LeakyReLU', { alpha: 'a lot' }, 'MODEL_INVALID', /config\.alpha/],
    ['ELU', { alpha: 0.5 }, 'LAYER_UNSUPPORTED', /config\.alpha/],
    ['ThresholdedReLU', { theta: [1] }, 'MODEL_INVALID', /config\.theta/],
    ['Softmax', { axis: [1, 2] }, 'MODEL_INVALID', /config\.axis/],
    ['PReLU', { shared_axes: [0] }, 'MODEL_INVALID', /config\.shared_axes/],
  ];
  expectConfigErrors(bad);
});

