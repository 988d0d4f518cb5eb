/** The resampling family against tfjs: ZeroPadding2D, Cropping2D, UpSampling2D (nearest, bilinear), random amounts; strict parse. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { layerClass } from '../../../pipeline/layers/registry.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { predictFlat, randomInputs } from '../../fixtures/models.ts';
import { runOnnx, sequentialOf } from '../onnx/helpers.ts';
import { layer } from '../../fixtures/ir.ts';
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


/** Each step of [n, steps, c] repeated `s` times (Keras's UpSampling1D), written out. */
function repeatSteps(x: Float32Array, [n, steps, c]: number[], s: number): Float32Array {
  const out = new Float32Array(x.length * s);
  for (let i = 0; i < n!; i++) for (let t = 0; t < steps! * s; t++) out.set(x.subarray((i * steps! + Math.floor(t / s)) * c!, (i * steps! + Math.floor(t / s) + 1) * c!), (i * steps! * s + t) * c!);
  return out;
}

test('UpSampling1D (tfjs has none): shape, no weights, 0 MACs; ONNX repeats each step, on the input and after a Conv1D (channels first)', async () => {
  for (const [size, pre] of [[2, false], [3, true], [1, true]] as const) {
    const model = sequentialOf(`up1d_${size}`, [5, 2], pre ? [tf.layers.conv1d({ filters: 3, kernelSize: 2, name: 'c' })] : []);
    const base = await irFromTfjsModel(model);
    const last = base.outputs[0]!;
    const ir = { ...base, layers: [...base.layers, layer('up', 'UpSampling1D', [last], { size })], outputs: ['up'] };
    const inner = inferShapes(ir).get(last)!;
    assert.deepEqual(inferShapes(ir).get('up'), [inner[0]! * size, inner[1]!]);
    assert.equal(countMacs(ir).perLayer.up, 0);
    assert.deepEqual(layerClass('UpSampling1D')!.weights(ir.layers.at(-1)!, [inner]), []);
    const x = randomInputs(model, 2);
    const [before] = pre ? await predictFlat(model, x) : [x[0]!.dataSync() as Float32Array];
    const [onnxOut] = await runOnnx(exportOnnx(ir), x);
    assert.deepEqual(Array.from(onnxOut!), Array.from(repeatSteps(before!, [2, ...inner], size)));
    tf.dispose(x);
    model.dispose();
  }
  expectConfigErrors([['UpSampling1D', { size: 0 }, 'MODEL_INVALID', /config\.size/], ['UpSampling1D', { size: [2] }, 'MODEL_INVALID', /config\.size/]]);
});
