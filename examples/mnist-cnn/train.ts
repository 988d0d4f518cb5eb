/**
 * Trains the bundled example (examples/mnist-cnn/model.ts) and writes the baseline `npm run compress` starts from:
 * examples/mnist-cnn/model/ (model.json + weights, plus training.json recording how it was made). Run with
 * `npm run train:example`. The recipe (split, optimizer, schedule, augmentation) is examples/train-mnist.ts.
 *
 * 7,200 training digits are few for this 693k-parameter model: without help it overfits to ~97.4% test accuracy.
 * Random shifts of up to 2 pixels per sample and epoch, and a learning rate cut over the last epochs, bring it to
 * ~98% (measured on validation when choosing them).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { trainMnistExample } from '../train-mnist.ts';
import { buildExampleModel } from './model.ts';

await trainMnistExample({
  build: buildExampleModel,
  script: 'examples/mnist-cnn/train.ts',
  outDir: join(dirname(fileURLToPath(import.meta.url)), 'model'),
  minTestAccuracy: 0.97,
  // pipeline.config.ts's seed and validation fraction: the same validation split.
  seed: 42,
  validationFraction: 0.1,
});
