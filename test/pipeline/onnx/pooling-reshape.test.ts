/** Pools (TF 'same' semantics), global pools, and the layers that move data: Flatten order, Reshape, padding, cropping, resize. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { exportAndCompare, meetsParity, runOnnxChecker, sequentialOf, tempDir, useReferenceBackend } from './helpers.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);

const conv = (filters = 3) => tf.layers.conv2d({ filters, kernelSize: 1 });

const cases: Array<{ name: string; inputShape: number[]; layers: () => tf.layers.Layer[] }> = [
  { name: 'maxpool_valid', inputShape: [7, 6, 2], layers: () => [conv(), tf.layers.maxPooling2d({ poolSize: 2 })] },
  { name: 'maxpool_same_odd', inputShape: [7, 5, 2], layers: () => [conv(), tf.layers.maxPooling2d({ poolSize: [3, 2], strides: [2, 2], padding: 'same' })] },
  // 'same' average pooling: windows at the border average only real inputs (count_include_pad = 0).
  { name: 'avgpool_same', inputShape: [6, 7, 2], layers: () => [conv(), tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })] },
  { name: 'avgpool_valid_rect', inputShape: [8, 7, 2], layers: () => [conv(), tf.layers.averagePooling2d({ poolSize: [2, 3], strides: [2, 1], padding: 'valid' })] },
  // Pools straight on the NHWC input (no conv first): the transpose comes from the pool itself.
  { name: 'pool_on_input', inputShape: [6, 6, 3], layers: () => [tf.layers.averagePooling2d({ poolSize: 2, padding: 'same' })] },
  { name: 'global_avg', inputShape: [5, 6, 3], layers: () => [conv(4), tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 2 })] },
  { name: 'global_max_on_input', inputShape: [5, 6, 3], layers: () => [tf.layers.globalMaxPooling2d({})] },
  { name: 'global_pools_1d', inputShape: [6, 4], layers: () => [tf.layers.dense({ units: 3 }), tf.layers.globalAveragePooling1d({})] },
  { name: 'global_max_1d', inputShape: [6, 4], layers: () => [tf.layers.globalMaxPooling1d({})] },
  // Flatten must see NHWC element order, or the Dense after it multiplies the wrong weights.
  { name: 'flatten_dense', inputShape: [4, 3, 2], layers: () => [conv(5), tf.layers.flatten(), tf.layers.dense({ units: 3 })] },
  { name: 'flatten_input', inputShape: [3, 4, 2], layers: () => [tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] },
  { name: 'reshape_after_conv', inputShape: [4, 4, 2], layers: () => [conv(6), tf.layers.reshape({ targetShape: [8, -1] })] },
  { name: 'reshape_then_dense', inputShape: [4, 4, 2], layers: () => [conv(6), tf.layers.reshape({ targetShape: [8, 12] }), tf.layers.dense({ units: 2 })] },
  { name: 'reshape_to_4d_then_conv', inputShape: [24], layers: () => [tf.layers.reshape({ targetShape: [2, 4, 3] }), conv(2)] },
  { name: 'dense_on_4d', inputShape: [3, 4, 2], layers: () => [conv(3), tf.layers.dense({ units: 4, activation: 'relu' })] },
  { name: 'zero_padding', inputShape: [4, 5, 2], layers: () => [conv(), tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }), tf.layers.maxPooling2d({ poolSize: 2 })] },
  // Zero padding must count in the pool: a Pad folded into the pool's own pads (ignored cells) would differ.
  { name: 'zero_padding_then_avgpool', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.zeroPadding2d({ padding: 1 }), tf.layers.averagePooling2d({ poolSize: 3, strides: 1 })] },
  { name: 'zero_padding_then_maxpool', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.zeroPadding2d({ padding: 1 }), tf.layers.maxPooling2d({ poolSize: 2, strides: 1 })] },
  { name: 'zero_padding_then_conv', inputShape: [5, 5, 2], layers: () => [tf.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }), tf.layers.conv2d({ filters: 2, kernelSize: 3, strides: 2 })] },
  { name: 'zero_padding_on_input', inputShape: [4, 5, 2], layers: () => [tf.layers.zeroPadding2d({ padding: 1 })] },
  { name: 'cropping', inputShape: [6, 7, 2], layers: () => [conv(), tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]] })] },
  { name: 'upsampling_nearest', inputShape: [3, 4, 2], layers: () => [conv(), tf.layers.upSampling2d({ size: [2, 3] })] },
  { name: 'upsampling_bilinear', inputShape: [3, 4, 2], layers: () => [conv(), tf.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' })] },
  { name: 'dropouts_dropped', inputShape: [5, 5, 2], layers: () => [conv(), tf.layers.dropout({ rate: 0.5 }), tf.layers.reshape({ targetShape: [25, 3] }), tf.layers.spatialDropout1d({ rate: 0.5 }), tf.layers.flatten(), tf.layers.alphaDropout({ rate: 0.5 }), tf.layers.gaussianNoise({ stddev: 1 }), tf.layers.gaussianDropout({ rate: 0.5 }), tf.layers.dense({ units: 2 })] },
];

for (const c of cases) {
  test(`${c.name} matches tfjs`, async () => {
    const { reports, path } = await exportAndCompare(sequentialOf(c.name, c.inputShape, c.layers()), dir, { batch: 3 });
    written.push(path);
    assert.ok(meetsParity(reports), JSON.stringify(reports));
  });
}

test('every exported pooling/reshaping model passes onnx.checker (full_check)', (t) => {
  assert.equal(written.length, cases.length);
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});
