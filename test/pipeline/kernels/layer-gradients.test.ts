import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { assertWasmMatchesCpu, seeded } from './compare-backends.ts';

/**
 * Training-mode gradients of small tf.layers models, one per layer kind slimnet handles, on wasm against cpu:
 * the gradient of every trainable weight and of the input. Weights are set from seeded values so both backends
 * start from the same model.
 */

const { layers } = tf;
type Build = () => tf.LayersModel;

function sequential(inputShape: number[], stack: tf.layers.Layer[]): Build {
  return () => {
    const input = tf.input({ shape: inputShape });
    let y: tf.SymbolicTensor = input;
    for (const layer of stack) y = layer.apply(y) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: y });
  };
}

const MODELS: Record<string, Build> = {
  'Conv2D relu -> Flatten -> Dense': () =>
    sequential([7, 7, 3], [layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), layers.flatten(), layers.dense({ units: 3 })])(),
  'Conv2D (linear, no bias, stride 2, same) -> BatchNormalization -> ReLU -> Dense': () =>
    sequential([7, 7, 3], [
      layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
      layers.batchNormalization(), layers.reLU(), layers.flatten(), layers.dense({ units: 3 }),
    ])(),
  'Conv2D (bias, stride 2, valid) 5x5 kernel on odd input': () =>
    sequential([9, 8, 2], [layers.conv2d({ filters: 3, kernelSize: 5, strides: 2 }), layers.flatten(), layers.dense({ units: 2 })])(),
  'DepthwiseConv2D (multiplier 2, relu6) -> GlobalAveragePooling2D': () =>
    sequential([7, 7, 3], [
      layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', activation: 'relu6' }),
      layers.globalAveragePooling2d({}), layers.dense({ units: 3 }),
    ])(),
  'DepthwiseConv2D (stride 2, no bias) -> BatchNormalization': () =>
    sequential([8, 7, 2], [
      layers.depthwiseConv2d({ kernelSize: 3, strides: 2, useBias: false }), layers.batchNormalization(),
      layers.flatten(), layers.dense({ units: 2 }),
    ])(),
  'SeparableConv2D (multiplier 2, stride 2) -> GlobalMaxPooling2D': () =>
    sequential([7, 7, 3], [
      layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, strides: 2, padding: 'same' }),
      layers.globalMaxPooling2d({}), layers.dense({ units: 3 }),
    ])(),
  'Conv2D -> MaxPooling2D (3, stride 2, same) -> AveragePooling2D -> softmax': () =>
    sequential([9, 9, 2], [
      layers.conv2d({ filters: 3, kernelSize: 1 }), layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }),
      layers.averagePooling2d({ poolSize: 2 }), layers.flatten(), layers.dense({ units: 3, activation: 'softmax' }),
    ])(),
  'MaxPooling2D 2x2 on odd input (the example CNN shape)': () =>
    sequential([7, 9, 3], [
      layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu' }), layers.maxPooling2d({ poolSize: 2 }),
      layers.flatten(), layers.dense({ units: 5, activation: 'relu' }), layers.dense({ units: 3, activation: 'softmax' }),
    ])(),
  'Dense activations: elu selu leakyRelu swish tanh sigmoid relu6 softplus mish gelu, Dropout': () =>
    sequential([5], [
      layers.dense({ units: 6, activation: 'elu' }), layers.dense({ units: 6, activation: 'selu' }), layers.leakyReLU({ alpha: 0.2 }),
      layers.dense({ units: 6, activation: 'swish' }), layers.dense({ units: 6, activation: 'tanh' }),
      layers.dense({ units: 6, activation: 'sigmoid' }), layers.dense({ units: 6, activation: 'relu6' }),
      layers.dense({ units: 6, activation: 'softplus' }), layers.dense({ units: 6, activation: 'mish' }),
      layers.dense({ units: 6, activation: 'gelu' }), layers.dropout({ rate: 0.3, seed: 7 }),
      layers.dense({ units: 4 }), layers.activation({ activation: 'softmax' }),
    ])(),
  'Conv1D (same, stride 2) -> MaxPooling1D -> AveragePooling1D (same) -> GlobalMaxPooling1D': () =>
    sequential([12, 3], [
      layers.conv1d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }), layers.maxPooling1d({ poolSize: 2, strides: 1 }),
      layers.averagePooling1d({ poolSize: 2, padding: 'same' }), layers.globalMaxPooling1d({}), layers.dense({ units: 3, activation: 'softmax' }),
    ])(),
  'Conv2DTranspose (same, stride 2) -> Conv2DTranspose (valid, kernel 2, stride 3) -> GlobalAveragePooling2D': () =>
    sequential([4, 3, 2], [
      layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
      layers.conv2dTranspose({ filters: 2, kernelSize: 2, strides: 3 }), layers.globalAveragePooling2d({}), layers.dense({ units: 3 }),
    ])(),
  'functional: Add, Concatenate, Multiply, ZeroPadding2D, Reshape': () => {
    const input = tf.input({ shape: [6, 6, 2] });
    const a = layers.conv2d({ filters: 2, kernelSize: 1, activation: 'elu' }).apply(input) as tf.SymbolicTensor;
    const sum = layers.add().apply([a, input]) as tf.SymbolicTensor;
    const joined = layers.concatenate().apply([sum, input]) as tf.SymbolicTensor;
    const padded = layers.zeroPadding2d({ padding: 1 }).apply(joined) as tf.SymbolicTensor;
    const conv = layers.conv2d({ filters: 3, kernelSize: 3, activation: 'tanh' }).apply(padded) as tf.SymbolicTensor;
    const gated = layers.multiply().apply([conv, layers.conv2d({ filters: 3, kernelSize: 3, activation: 'sigmoid' }).apply(padded) as tf.SymbolicTensor]) as tf.SymbolicTensor;
    const flat = layers.reshape({ targetShape: [6 * 6 * 3] }).apply(gated) as tf.SymbolicTensor;
    return tf.model({ inputs: input, outputs: layers.dense({ units: 3 }).apply(flat) as tf.SymbolicTensor });
  },
};

/** Seeded weights; variances must stay positive. */
function setSeededWeights(model: tf.LayersModel): void {
  model.setWeights(
    model.weights.map((w, i) => {
      const values = seeded(w.shape as number[], 100 + i, 0.5);
      return w.name.includes('variance') ? tf.add(tf.abs(values), 0.5) : values;
    }),
  );
}

test('layer gradients in training mode on wasm match cpu, for every layer kind', async () => {
  for (const [name, build] of Object.entries(MODELS)) {
    await assertWasmMatchesCpu(name, () => {
      const model = build();
      setSeededWeights(model);
      const x = seeded([3, ...(model.inputs[0]!.shape.slice(1) as number[])], 1);
      const outputShape = [3, ...(model.outputs[0]!.shape.slice(1) as number[])];
      const loss = (input: tf.Tensor) =>
        tf.sum(tf.mul(model.apply(input, { training: true }) as tf.Tensor, seeded(outputShape, 2)));
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => loss(x) as tf.Scalar, variables);
      const inputGradient = tf.grad(loss)(x);
      const result = [value, inputGradient, ...variables.map((v) => grads[v.name]!)];
      model.dispose();
      return result;
    });
  }
});

test('Embedding (a repeated id sums its rows; UnsortedSegmentSum, which wasm lacks) -> LSTM gradients on wasm match cpu', async () => {
  await assertWasmMatchesCpu('Embedding -> LSTM', () => {
    const model = sequential([5], [layers.embedding({ inputDim: 4, outputDim: 3 }), layers.lstm({ units: 2 }), layers.dense({ units: 2 })])();
    setSeededWeights(model);
    const ids = tf.tensor([[0, 1, 1, 3, 0], [2, 2, 2, 1, 3]]);
    const loss = () => tf.sum(tf.mul(model.apply(ids, { training: true }) as tf.Tensor, seeded([2, 2], 2)));
    const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() => loss() as tf.Scalar, variables);
    const result = [value, ...variables.map((v) => grads[v.name]!)];
    model.dispose();
    return result;
  });
});

/**
 * UpSampling2D on one square sample: tfjs's cpu backend (the reference here) gets ResizeNearestNeighborGrad wrong
 * from the second sample of a batch on (it offsets dY by the input's batch stride) and its ResizeBilinearGrad throws
 * on non-square images; wasm, which fine-tunes, is right on both (test/pipeline/train/ort/gradients-1d.test.ts
 * checks the block sums).
 */
test('UpSampling2D (nearest and bilinear) gradients on wasm match cpu', async () => {
  for (const interpolation of ['nearest', 'bilinear'] as const) {
    await assertWasmMatchesCpu(`UpSampling2D ${interpolation}`, () => {
      const model = sequential([3, 3, 2], [layers.conv2d({ filters: 2, kernelSize: 1 }), layers.upSampling2d({ size: [2, 2], interpolation }), layers.conv2d({ filters: 2, kernelSize: 3 }), layers.flatten(), layers.dense({ units: 2 })])();
      setSeededWeights(model);
      const x = seeded([1, 3, 3, 2], 1);
      const loss = (input: tf.Tensor) => tf.sum(tf.mul(model.apply(input, { training: true }) as tf.Tensor, seeded([1, 2], 2)));
      const variables = model.trainableWeights.map((w) => w.read() as tf.Variable);
      const { value, grads } = tf.variableGrads(() => loss(x) as tf.Scalar, variables);
      const result = [value, tf.grad(loss)(x), ...variables.map((v) => grads[v.name]!)];
      model.dispose();
      return result;
    });
  }
});
