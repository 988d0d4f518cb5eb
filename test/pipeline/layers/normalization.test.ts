/**
 * The normalisation family against tfjs: random BatchNormalization (center/scale/epsilon, folded into the layer before
 * it or emitted, on any axis), LayerNormalization's shapes and params; the channel rule; strict parse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { sequentialOf } from '../onnx/helpers.ts';
import { caseTests, picker, UNDER, type LayerCase, expectConfigErrors } from './harness.ts';

const none = () => 0;

function batchNormCases(count: number): LayerCase[] {
  const p = picker(81);
  return Array.from({ length: count }, (_, i) => {
    const args = { center: p.bool(), scale: p.bool(), epsilon: p.pick([1e-3, 1e-2, 0.1]), momentum: p.pick([0.9, 0.99]), name: UNDER };
    // A linear conv or dense before it: folded. After a relu or on the input: emitted as Mul + Add.
    const before = p.pick(['conv', 'conv_relu', 'dense', 'input'] as const);
    const spatial = before !== 'dense';
    const axis = spatial ? p.pick([-1, 3]) : p.pick([-1, 1]);
    return {
      name: `bn_${before}_axis${axis}_${i}`,
      inputShape: spatial ? [4, 5, 3] : [6],
      layers: () => [
        ...(before === 'conv' ? [tf.layers.conv2d({ filters: 3, kernelSize: 1 })] : []),
        ...(before === 'conv_relu' ? [tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'relu' })] : []),
        ...(before === 'dense' ? [tf.layers.dense({ units: 4 })] : []),
        tf.layers.batchNormalization({ ...args, axis }),
      ],
      macs: none,
    };
  });
}

const cases: LayerCase[] = [
  ...batchNormCases(10),
  { name: 'layer_norm_last', inputShape: [5, 4], layers: () => [tf.layers.layerNormalization({ name: UNDER })], macs: none, onnx: false },
  { name: 'layer_norm_axes', inputShape: [3, 4, 2], layers: () => [tf.layers.layerNormalization({ axis: [1, 2], center: false, name: UNDER })], macs: none, onnx: false },
];

caseTests('normalisation', cases);

test('channel rule: BN on the channel axis follows its producer (gamma, beta, statistics sliced with it); on another axis it blocks', async () => {
  const make = (axis: number) => sequentialOf(`bn_channels_${axis + 1}`, [4, 4, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'c' }), tf.layers.batchNormalization({ axis, name: 'bn' }),
    tf.layers.flatten(), tf.layers.dense({ units: 2, name: 'head' }),
  ]);
  for (const [axis, blocked] of [[-1, 0], [2, 3]] as const) {
    const model = make(axis);
    const a = analyzeChannels(await irFromTfjsModel(model));
    model.dispose();
    const g = a.groups.find((x) => x.name === 'c')!;
    assert.equal(g.blocked.size, blocked, `axis ${axis}`);
    if (!blocked) assert.deepEqual(a.bindings.filter((b) => b.layer === 'bn').map((b) => b.weight), ['gamma', 'beta', 'moving_mean', 'moving_variance']);
  }
});

test('BN over a non-channel axis is refused by the export: tfjs applies its statistics along the last axis anyway', async () => {
  const model = sequentialOf('bn_axis1', [2, 3, 2], [tf.layers.batchNormalization({ axis: 1, name: 'bn' })]);
  const ir = await irFromTfjsModel(model);
  model.dispose();
  assert.throws(() => exportOnnx(ir), (e: unknown) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && e.where === 'layer "bn" (BatchNormalization)' && /axis 1/.test(e.message));
});

test('the config parse is strict', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['BatchNormalization', { axis: [1, 2] }, /config\.axis/],
    ['BatchNormalization', { epsilon: 0 }, /config\.epsilon/],
    ['BatchNormalization', { epsilon: -1e-3 }, /config\.epsilon/],
    ['BatchNormalization', { momentum: 2 }, /config\.momentum/],
    ['BatchNormalization', { center: 0 }, /config\.center/],
    ['BatchNormalization', { gamma_initializer: { class_name: 'Ones', config: { x: 1e999 } } }, /config\.gamma_initializer/],
    ['LayerNormalization', { axis: 'last' }, /config\.axis/],
  ];
  expectConfigErrors(bad.map(([c, k, key]) => [c, k, 'MODEL_INVALID', key]));
});

