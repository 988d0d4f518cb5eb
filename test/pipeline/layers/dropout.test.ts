/** The dropout/noise family: identity at inference (ONNX drops them), shapes and params as tfjs; strict parse. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { layer } from '../../fixtures/ir.ts';
import { checkCase, runOnnxChecker, tempDir, UNDER, useReferenceBackend, type LayerCase } from './harness.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);

const none = () => 0;
const conv = () => tf.layers.conv2d({ filters: 3, kernelSize: 1 });

const cases: LayerCase[] = [
  { name: 'dropout_4d', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.dropout({ rate: 0.5, name: UNDER })], macs: none },
  { name: 'spatial_dropout_1d', inputShape: [6, 3], layers: () => [tf.layers.spatialDropout1d({ rate: 0.3, name: UNDER })], macs: none },
  { name: 'alpha_dropout', inputShape: [6], layers: () => [tf.layers.dense({ units: 4 }), tf.layers.alphaDropout({ rate: 0.2, name: UNDER })], macs: none },
  { name: 'gaussian_noise', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.gaussianNoise({ stddev: 1, name: UNDER })], macs: none },
  { name: 'gaussian_dropout', inputShape: [6], layers: () => [tf.layers.gaussianDropout({ rate: 0.5, name: UNDER }), tf.layers.dense({ units: 2 })], macs: none },
];

for (const c of cases) {
  test(`${c.name}: shapes, params, MACs, ONNX match tfjs`, async () => {
    written.push((await checkCase(c, dir)).path!);
  });
}

test('the config parse is strict', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['Dropout', {}, /config\.rate/],
    ['Dropout', { rate: 1.5 }, /config\.rate/],
    ['Dropout', { rate: 0.5, noise_shape: [null, 0] }, /config\.noise_shape/],
    ['Dropout', { rate: 0.5, seed: -3 }, /config\.seed/],
    ['GaussianNoise', { stddev: -1 }, /config\.stddev/],
    ['GaussianDropout', { rate: 'half' }, /config\.rate/],
  ];
  for (const [className, keras, key] of bad) {
    assert.throws(() => layer('d', className, ['in'], keras), (e: unknown) =>
      isSlimnetError(e) && e.code === 'MODEL_INVALID' && e.where === `layer "d" (${className})` && key.test(e.message), `${className} ${JSON.stringify(keras)}`);
  }
});

test('every exported dropout model passes onnx.checker (full_check)', () => {
  assert.equal(written.length, cases.length);
  const result = runOnnxChecker(written);
  assert.ok(result.ok, result.output);
});
