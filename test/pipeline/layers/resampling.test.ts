/** The resampling family against tfjs: ZeroPadding2D, Cropping2D, UpSampling2D (nearest, bilinear), random amounts; strict parse. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { caseTests, picker, UNDER, type LayerCase, expectConfigErrors } from './harness.ts';

const conv = (filters = 3) => tf.layers.conv2d({ filters, kernelSize: 1 });
const none = () => 0;

function randomCases(count: number): LayerCase[] {
  const p = picker(61);
  return Array.from({ length: count }, (_, i): LayerCase[] => {
    const pre = p.bool();
    const before = () => (pre ? [conv()] : []);
    const padding = p.pick([p.int(0, 2), [p.int(0, 2), p.int(1, 3)], [[p.int(0, 2), p.int(0, 2)], [p.int(0, 2), p.int(1, 2)]]]);
    const cropping = p.pick([1, [p.int(0, 1), p.int(1, 2)], [[p.int(0, 1), p.int(0, 2)], [p.int(1, 2), p.int(0, 1)]]]);
    const size: [number, number] = [p.int(1, 3), p.int(1, 3)];
    const interpolation = p.pick(['nearest', 'bilinear'] as const);
    return [
      { name: `zero_padding_${i}`, inputShape: [4, 5, 2], layers: () => [...before(), tf.layers.zeroPadding2d({ padding: padding as number, name: UNDER })], macs: none },
      { name: `cropping_${i}`, inputShape: [6, 7, 2], layers: () => [...before(), tf.layers.cropping2D({ cropping: cropping as number, name: UNDER })], macs: none },
      { name: `upsampling_${interpolation}_${i}`, inputShape: [3, 4, 2], layers: () => [...before(), tf.layers.upSampling2d({ size, interpolation, name: UNDER })], macs: none },
    ];
  }).flat();
}

const cases: LayerCase[] = [
  // Zero padding must count in the pool: a Pad folded into the pool's own pads (ignored cells) would differ.
  { name: 'zero_padding_then_avgpool', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.zeroPadding2d({ padding: 1, name: UNDER }), tf.layers.averagePooling2d({ poolSize: 3, strides: 1 })], macs: none },
  { name: 'zero_padding_then_maxpool', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.zeroPadding2d({ padding: 1, name: UNDER }), tf.layers.maxPooling2d({ poolSize: 2, strides: 1 })], macs: none },
  { name: 'zero_padding_then_conv', inputShape: [5, 5, 2], layers: () => [tf.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]], name: UNDER }), tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2 })], macs: none },
  ...randomCases(4),
];

caseTests('resampling', cases);

test('the config parse is strict', () => {
  const bad: Array<[string, Record<string, unknown>, RegExp]> = [
    ['ZeroPadding2D', { padding: -1 }, /config\.padding/],
    ['ZeroPadding2D', { padding: [1, 2, 3] }, /config\.padding/],
    ['Cropping2D', {}, /config\.cropping/],
    ['Cropping2D', { cropping: [[1, 1], [1]] }, /config\.cropping/],
    ['UpSampling2D', { size: 2 }, /config\.size/], // tfjs reads size[0] and size[1]
    ['UpSampling2D', { size: [2, 0] }, /config\.size/],
    ['UpSampling2D', { interpolation: 'bicubic' }, /config\.interpolation/],
  ];
  expectConfigErrors(bad.map(([c, k, key]) => [c, k, 'MODEL_INVALID', key]));
});

