import * as tf from '@tensorflow/tfjs';

/**
 * The multi-convolution example: three 3×3 convolutions (32, 64, 64 filters) on the same MNIST digits, a small
 * dense head. Unlike the bundled mnist-cnn, whose weights sit in its Dense layer, 90% of this model's parameters and
 * nearly all of its MACs are in convolutions with many input channels — where depthwise-separable replacement pays.
 * Layer names are fixed (configs and reports refer to them); every initialiser is seeded.
 */
export function buildConvnetModel(seed: number): tf.Sequential {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: 'mnist_convnet',
    layers: [
      tf.layers.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv2', filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv3', filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'dense', units: 10, activation: 'softmax', kernelInitializer: init(4) }),
    ],
  });
}
