/** The bench's models: the bundled example CNN and a heavier reference CNN, both on 28x28x1 with 10 classes. */
import * as tf from '@tensorflow/tfjs';
import { buildExampleModel } from '../examples/mnist-cnn/model.ts';

export type BenchModel = 'example' | 'reference';

/** Three 3x3 convolutions (32/64/128 filters); the first two 'same'-padded, each followed by 2x2 max pooling. */
export function buildReferenceModel(seed: number): tf.Sequential {
  const init = (offset: number) => tf.initializers.glorotUniform({ seed: seed + offset });
  return tf.sequential({
    name: 'reference_cnn',
    layers: [
      tf.layers.conv2d({ name: 'conv1', inputShape: [28, 28, 1], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(1) }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv2', filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ name: 'pool2', poolSize: 2 }),
      tf.layers.conv2d({ name: 'conv3', filters: 128, kernelSize: 3, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ name: 'dense', units: 10, activation: 'softmax', kernelInitializer: init(4) }),
    ],
  });
}

export function buildBenchModel(which: BenchModel, seed = 1): tf.Sequential {
  return which === 'example' ? buildExampleModel(seed) : buildReferenceModel(seed);
}
