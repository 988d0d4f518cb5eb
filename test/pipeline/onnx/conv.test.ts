/** Conv2D / DepthwiseConv2D / SeparableConv2D export: every geometry TF pads differently from ONNX defaults. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exportAndCompare, meetsParity, runOnnxChecker, sequentialOf, tempDir, useReferenceBackend } from './helpers.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);

const cases: Array<{ name: string; inputShape: number[]; layers: () => tf.layers.Layer[] }> = [
  // Stride 2 'same' on an even size: TF pads 0 top / 1 bottom — the case SAME_LOWER or symmetric pads get wrong.
  { name: 'conv_same_stride2_even', inputShape: [8, 8, 3], layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' })] },
  { name: 'conv_same_rect_odd', inputShape: [7, 9, 2], layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: [3, 2], strides: [2, 3], padding: 'same', useBias: false, activation: 'sigmoid' })] },
  { name: 'conv_same_kernel4', inputShape: [6, 5, 2], layers: () => [tf.layers.conv2d({ filters: 2, kernelSize: 4, strides: 1, padding: 'same' })] },
  { name: 'conv_valid_stride2', inputShape: [9, 7, 2], layers: () => [tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, padding: 'valid', activation: 'tanh' })] },
  { name: 'conv_dilated_no_bias', inputShape: [10, 10, 2], layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', useBias: false, activation: 'relu6' })] },
  { name: 'conv_dilated_valid', inputShape: [10, 9, 1], layers: () => [tf.layers.conv2d({ filters: 2, kernelSize: [2, 3], dilationRate: [3, 2], padding: 'valid' })] },
  { name: 'depthwise_m1', inputShape: [6, 6, 3], layers: () => [tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', activation: 'relu' })] },
  // Channel order c*m+j: a wrong reorder of [kh,kw,C,m] shows up as swapped output channels.
  { name: 'depthwise_m3_stride2', inputShape: [8, 8, 2], layers: () => [tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 3, strides: 2, padding: 'same' })] },
  { name: 'depthwise_valid_no_bias', inputShape: [9, 8, 2], layers: () => [tf.layers.depthwiseConv2d({ kernelSize: [2, 3], depthMultiplier: 2, strides: [2, 1], padding: 'valid', useBias: false })] },
  { name: 'separable_stride2', inputShape: [8, 8, 3], layers: () => [tf.layers.separableConv2d({ filters: 5, kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'swish' })] },
  { name: 'separable_dilated_no_bias', inputShape: [9, 8, 2], layers: () => [tf.layers.separableConv2d({ filters: 3, kernelSize: 3, dilationRate: 2, padding: 'same', useBias: false })] },
  // Conv chain with a Flatten+Dense head: the transposes between layouts must land in the right places.
  { name: 'conv_chain_head', inputShape: [7, 7, 2], layers: () => [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'elu' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same' }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 4, activation: 'softmax' }),
  ] },
];

for (const c of cases) {
  test(`${c.name} matches tfjs`, async () => {
    const model = sequentialOf(c.name, c.inputShape, c.layers());
    const { reports, path } = await exportAndCompare(model, dir, { batch: 3 });
    written.push(path);
    assert.ok(meetsParity(reports), JSON.stringify(reports));
  });
}

test('every exported conv model passes onnx.checker (full_check)', (t) => {
  assert.equal(written.length, cases.length);
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});
