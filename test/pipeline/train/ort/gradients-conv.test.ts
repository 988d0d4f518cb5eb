/**
 * ORT training step vs tfjs (cpu backend, tf.variableGrads + tf.train.adam) for the convolution, pooling, dense,
 * reshaping and activation layer kinds: gradients, loss and the weights after one Adam step agree to 1e-5.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import type { ModelIR } from '../../../../pipeline/ir.ts';
import { assertClose, compareStep, irOf, type Comparison } from './helpers.ts';

before(async () => {
  await initEngine('cpu');
});

function seq(inputShape: number[], layers: tf.layers.Layer[]): tf.Sequential {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape, name: 'in' }));
  for (const l of layers) m.add(l);
  return m;
}

const softmaxHead = (units = 3) => [tf.layers.flatten({ name: 'flat' }), tf.layers.dense({ units, activation: 'softmax', name: 'head' })];
const keys = (...layers: string[]) => layers.flatMap((l) => [`${l}/kernel`, `${l}/bias`]);

test('Conv2D: strides with same and valid padding (uneven leftover rows), rectangular kernels, relu/sigmoid', async () => {
  const ir = await irOf(seq([9, 8, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'c1' }),
    tf.layers.conv2d({ filters: 4, kernelSize: [2, 3], strides: [2, 1], padding: 'valid', activation: 'sigmoid', name: 'c2' }),
    ...softmaxHead(),
  ]));
  assertClose(await compareStep(ir), keys('c1', 'c2', 'head'));
});

test('Conv2D: stride 2 valid on an even input (the kernel gradient crops the unreached row), dilation 2 same and valid, tanh', async () => {
  const ir = await irOf(seq([10, 10, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'valid', name: 'c1' }),
    tf.layers.conv2d({ filters: 3, kernelSize: 2, dilationRate: 2, padding: 'same', activation: 'tanh', name: 'c2' }),
    tf.layers.conv2d({ filters: 2, kernelSize: 2, dilationRate: 2, padding: 'valid', useBias: false, name: 'c3' }),
    ...softmaxHead(),
  ]));
  assertClose(await compareStep(ir, { batch: 4 }), [...keys('c1', 'c2', 'head'), 'c3/kernel']);
});

test('DepthwiseConv2D: multiplier 2, stride 2 same, relu6; multiplier 1 valid', async () => {
  const ir = await irOf(seq([7, 7, 3], [
    tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'c0' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same', activation: 'relu6', name: 'dw1' }),
    tf.layers.depthwiseConv2d({ kernelSize: 2, padding: 'valid', name: 'dw2' }),
    ...softmaxHead(),
  ]));
  // relu6 needs pre-activations beyond 6 to test its cap: scale the first depthwise kernel up.
  const edit = (m: ModelIR) => {
    const k = m.layers.find((l) => l.name === 'dw1')!.weights[0];
    k.values = k.values.map((v) => v * 12);
  };
  const expected = [...keys('c0', 'head'), 'dw1/depthwise_kernel', 'dw1/bias', 'dw2/depthwise_kernel', 'dw2/bias'];
  assertClose(await compareStep(ir, { edit }), expected);
});

test('Dense and activations: tanh, sigmoid, relu, ReLU max_value, relu6, an inner softmax, a Softmax layer as output', async () => {
  const ir = await irOf(seq([6], [
    tf.layers.dense({ units: 5, activation: 'tanh', name: 'd1' }),
    tf.layers.dense({ units: 6, activation: 'sigmoid', name: 'd2' }),
    tf.layers.dense({ units: 6, name: 'd3' }),
    tf.layers.activation({ activation: 'relu', name: 'act_relu' }),
    tf.layers.dense({ units: 5, name: 'd4' }),
    tf.layers.reLU({ maxValue: 0.2, name: 'relu_cap' }),
    tf.layers.dense({ units: 5, activation: 'relu6', name: 'd5' }),
    tf.layers.activation({ activation: 'softmax', name: 'inner_softmax' }),
    tf.layers.dense({ units: 4, name: 'd6' }),
    tf.layers.softmax({ name: 'out' }),
  ]));
  const edit = (m: ModelIR) => {
    for (const name of ['d4', 'd5']) {
      const k = m.layers.find((l) => l.name === name)!.weights[0];
      k.values = k.values.map((v) => v * 20); // some pre-activations beyond the caps
    }
  };
  assertClose(await compareStep(ir, { batch: 5, edit }), keys('d1', 'd2', 'd3', 'd4', 'd5', 'd6'));
});

test('MaxPooling2D routes tied windows to the first maximum, as TF does', async () => {
  const ir = await irOf(seq([8, 8, 1], [
    tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same', name: 'c1' }),
    tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }),
    tf.layers.conv2d({ filters: 2, kernelSize: 2, padding: 'same', activation: 'relu', name: 'c2' }),
    tf.layers.maxPooling2d({ poolSize: 2, name: 'pool_after_relu' }),
    ...softmaxHead(),
  ]));
  // Integer inputs and kernels, no bias: conv outputs are exact small integers, so windows tie often, and the
  // kernel gradient depends on which tied cell receives dY (neighbourhoods differ).
  const edit = (m: ModelIR) => {
    const c1 = m.layers.find((l) => l.name === 'c1')!;
    c1.weights[0].values = c1.weights[0].values.map((v) => Math.sign(Math.round(v * 3)));
    c1.weights[1].values.fill(0);
  };
  const c = await compareStep(ir, { batch: 4, integerInputs: 2, edit });
  assertClose(c, keys('c1', 'c2', 'head'));
  assert.ok(countTiedWindows(c) > 10, 'the data should produce tied pooling windows');
});

/** Windows of the first conv's output (2x2, stride 2) whose maximum occurs more than once. */
function countTiedWindows(c: Comparison): number {
  const c1 = c.ir.layers.find((l) => l.name === 'c1')!;
  return tf.tidy(() => {
    const x = tf.tensor(c.batch.x, [c.batch.size, ...c.batch.sampleShape]);
    const y = tf.conv2d(x as tf.Tensor4D, tf.tensor4d(c1.weights[0].values, c1.weights[0].shape as [number, number, number, number]), 1, 'same');
    const data = y.dataSync();
    const [n, h, w, ch] = y.shape;
    let tied = 0;
    for (let b = 0; b < n; b++) for (let i = 0; i + 1 < h; i += 2) for (let j = 0; j + 1 < w; j += 2) for (let k = 0; k < ch; k++) {
      const cells = [[i, j], [i, j + 1], [i + 1, j], [i + 1, j + 1]].map(([p, q]) => data[((b * h + p) * w + q) * ch + k]);
      const max = Math.max(...cells);
      if (cells.filter((v) => v === max).length > 1) tied++;
    }
    return tied;
  });
}

test('MaxPooling2D: overlapping windows (3x3 stride 2) with same padding, 2x2 same on an odd size (padded), 2x3 valid', async () => {
  const ir = await irOf(seq([9, 9, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'relu', name: 'c1' }),
    tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'pool1' }),
    tf.layers.conv2d({ filters: 3, kernelSize: 1, activation: 'relu', name: 'c2' }),
    tf.layers.maxPooling2d({ poolSize: 2, padding: 'same', name: 'pool_padded' }),
    tf.layers.maxPooling2d({ poolSize: [2, 3], padding: 'valid', name: 'pool2' }),
    ...softmaxHead(),
  ]));
  assertClose(await compareStep(ir), keys('c1', 'c2', 'head'));
});

test('AveragePooling2D: same padding with stride (windows count only real cells) and valid; GlobalAveragePooling2D', async () => {
  const ir = await irOf(seq([9, 8, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'same', name: 'c1' }),
    tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same', name: 'avg1' }),
    tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'c2' }),
    tf.layers.averagePooling2d({ poolSize: 2, padding: 'valid', name: 'avg2' }),
    tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', name: 'c3' }),
    tf.layers.globalAveragePooling2d({ name: 'gap' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
  ]));
  assertClose(await compareStep(ir), keys('c1', 'c2', 'c3', 'head'));
});
