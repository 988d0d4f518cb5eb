/**
 * Trains the multi-convolution example (examples/mnist-convnet/model.ts) with the bundled examples' recipe
 * (examples/train-mnist.ts) and writes examples/mnist-convnet/model/. Run with `npm run train:convnet`.
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainMnistExample } from '../train-mnist.ts';
import { buildConvnetModel } from './model.ts';

await trainMnistExample({
  build: buildConvnetModel,
  script: 'examples/mnist-convnet/train.ts',
  outDir: join(dirname(fileURLToPath(import.meta.url)), 'model'),
  minTestAccuracy: 0.97,
  // examples/mnist-convnet/pipeline.config.ts's seed and validation fraction: the same validation split.
  seed: 42,
  validationFraction: 0.1,
});
