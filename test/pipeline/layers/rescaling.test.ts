/**
 * The preprocessing family against tfjs: Rescaling with a number or per-channel scale/offset (what the Keras reader
 * makes of a Normalization), on images, sequences and flat inputs, at the model input and between layers — shapes,
 * params, MACs, ONNX and TFLite outputs; its channel rule; an ORT training step through it; the strict parse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { isClass } from '../../../pipeline/layers/registry.ts';
import { randomizeWeights } from '../../fixtures/models.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { inputLayer, layer, model } from '../../fixtures/ir.ts';
import { assertClose, compareStep } from '../train/ort/helpers.ts';
import { caseTests, expectConfigErrors, UNDER, type LayerCase } from './harness.ts';

type RescalingArgs = Parameters<typeof tf.layers.rescaling>[0];
/** tfjs's typings say number; its Rescaling multiplies by whatever it holds, and per-channel lists broadcast. */
const rescaling = (scale: number | number[], offset?: number | number[], name = UNDER) => tf.layers.rescaling({ scale, offset, name } as unknown as RescalingArgs);
const none = () => 0;

const cases: LayerCase[] = [
  { name: 'scalar_on_image_input', inputShape: [5, 5, 3], layers: () => [rescaling(1 / 127.5, -1), tf.layers.conv2d({ filters: 2, kernelSize: 3 })], macs: none },
  { name: 'scale_only_on_flat_input', inputShape: [6], layers: () => [rescaling(2.5), tf.layers.dense({ units: 3 })], macs: none },
  { name: 'per_channel_on_image_input', inputShape: [4, 4, 3], layers: () => [rescaling([0.5, 2, -1], [0.1, 0, -0.3]), tf.layers.conv2d({ filters: 2, kernelSize: 3 })], macs: none },
  { name: 'per_channel_scale_scalar_offset_after_conv', inputShape: [6, 6, 2], layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 3 }), rescaling([1.5, -0.5, 3], 0.25), tf.layers.maxPooling2d({ poolSize: 2 })], macs: none },
  { name: 'one_value_list_on_sequence', inputShape: [5, 4], layers: () => [rescaling([0.2], [-1]), tf.layers.dense({ units: 3 })], macs: none },
  { name: 'per_channel_on_sequence', inputShape: [5, 4], layers: () => [rescaling([1, 2, 3, 4], [0, 0.5, 0, -0.5]), tf.layers.flatten(), tf.layers.dense({ units: 2 })], macs: none },
];

caseTests('preprocessing', cases);

test('channels: a scalar Rescaling passes them through (the conv before it prunes), a per-channel one keeps them', async () => {
  const build = (scale: number | number[]) => {
    const m = tf.sequential();
    m.add(tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3, name: 'conv' }));
    m.add(rescaling(scale, 0, 'rescale'));
    m.add(tf.layers.flatten({ name: 'flat' }));
    m.add(tf.layers.dense({ units: 2, name: 'head' }));
    return randomizeWeights(m, 2);
  };
  const blockedOfConv = async (scale: number | number[]) => {
    const a = analyzeChannels(await irFromTfjsModel(build(scale)));
    const g = a.groups.find((x) => x.members.some((m) => m.layer === 'conv'))!;
    return { blocked: g.blocked.size, classes: g.classes.length };
  };
  assert.deepEqual(await blockedOfConv(0.5), { blocked: 0, classes: 3 });
  assert.deepEqual(await blockedOfConv([0.5, 1, 2]), { blocked: 3, classes: 3 });
});

test('ORT training step through a per-channel Rescaling between layers (NCHW inside the graph) matches tfjs', async () => {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [5, 5, 2], name: 'in' }));
  m.add(rescaling(1 / 2, -0.25, 'pre'));
  m.add(tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu', name: 'c1' }));
  m.add(rescaling([2, -1, 0.5], [0.1, 0.2, -0.3], 'mid'));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 3));
  assertClose(await compareStep(ir, { batch: 3 }), ['c1/kernel', 'c1/bias', 'head/kernel', 'head/bias']);
});

test('the config parse: scale required, offset absent or null is 0, lists of finite numbers, lengths checked against the input', () => {
  expectConfigErrors([
    ['Rescaling', {}, 'MODEL_INVALID', /config\.scale/],
    ['Rescaling', { scale: 'x' }, 'MODEL_INVALID', /config\.scale/],
    ['Rescaling', { scale: [] }, 'MODEL_INVALID', /config\.scale/],
    ['Rescaling', { scale: 1, offset: [1, null] }, 'MODEL_INVALID', /config\.offset/],
    ['Rescaling', { scale: [[1, 2]] }, 'MODEL_INVALID', /config\.scale/],
  ]);
  const r = layer('r', 'Rescaling', ['in'], { scale: 0.5, offset: null });
  assert.ok(isClass(r, 'Rescaling'));
  assert.equal(r.config.offset, 0);
  assert.deepEqual(layer('r', 'Rescaling', ['in'], { scale: [1, 2] }).config, { ...layer('r', 'Rescaling', ['in'], { scale: [1, 2] }).config, scale: [1, 2], offset: 0 });
  const mismatch = model(inputLayer([4, 4, 3]), layer('r', 'Rescaling', ['in'], { scale: [1, 2] }));
  assert.throws(() => inferShapes(mismatch), (e: unknown) => isSlimnetError(e) && e.where === 'layer "r" (Rescaling)' && /config\.scale has 2 values .* 3 channels/.test(e.message));
});
