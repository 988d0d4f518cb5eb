import * as tf from '@tensorflow/tfjs';

/**
 * The bundled example: the classic small Keras MNIST CNN. Layer names are fixed (configs, reports and the
 * committed baseline refer to them) and every initialiser is seeded, so a seed fixes the starting weights.
 */
export function buildExampleModel(seed: number): tf.Sequential {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: 'mnist_cnn',
    layers: [
      tf.layers.conv2d({
        name: 'conv2d', inputShape: [28, 28, 1], filters: 32, kernelSize: 3, activation: 'relu',
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ name: 'max_pooling2d', poolSize: 2 }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'dense', units: 128, activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.dense({ name: 'dense_1', units: 10, activation: 'softmax', kernelInitializer: init(3) }),
    ],
  });
}
