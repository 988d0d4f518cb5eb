/**
 * Trains the residual-net example (examples/fashion-resnet/model.ts) on Fashion-MNIST and writes the baseline its
 * pipeline.config.ts starts from: examples/fashion-resnet/model/ (model.json + weights, and training.json recording
 * how it was made). Run with `npm run train:resnet` (needs Debian's `dataset-fashion-mnist`). Deterministic: the
 * same seed gives the same weights on the same machine (onnxruntime training-step graphs, 1 thread).
 *
 * Split: the IDX train set (60,000) with the same stratified 10% validation the pipeline carves (same fraction and
 * seed), so the validation set the gates measure was never trained on; test (10,000) is reported once, at the end.
 * Training: Adam with a cosine learning-rate decay over all epochs (pipeline/train/recipe.ts), cross-entropy only.
 */
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { initEngine } from '../../pipeline/engine.ts';
import { createPredictor, measureQuality } from '../../pipeline/evaluate.ts';
import { loadData } from '../../pipeline/data/load-data.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { ortFineTune } from '../../pipeline/train/ort/ort-fine-tune.ts';
import { buildResidualNet } from './model.ts';

export const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';
const SEED = 42; // pipeline.config.ts's seed: the same validation split
const VALIDATION_FRACTION = 0.1;
const EPOCHS = 6;
const BATCH_SIZE = 64;
const LEARNING_RATE = 3e-3;
const MIN_TEST_ACCURACY = 0.88;
const OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'model');

async function accuracy(ir: ModelIR, set: Parameters<typeof measureQuality>[1]): Promise<number> {
  const p = await createPredictor(ir, 'ort');
  try {
    return (await measureQuality(p, set, 500)).accuracy;
  } finally {
    p.dispose();
  }
}

async function main(): Promise<void> {
  const backend = await initEngine('auto');
  const splits = await loadData({ source: 'idx', dir: FASHION_MNIST }, { validationFraction: VALIDATION_FRACTION, seed: SEED, inputShape: [28, 28, 1] });
  console.log(`backend ${backend}; train ${splits.train.count}, validation ${splits.validation.count}, test ${splits.test.count}`);
  const model = buildResidualNet(SEED);
  const initial = await irFromTfjsModel(model);
  model.dispose();
  const progress: { epoch: number; loss: number; seconds: number }[] = [];
  // One call for all epochs: the cosine schedule spans the whole run.
  const result = await ortFineTune(initial, {
    train: splits.train, temperature: 1, alpha: 0, epochs: EPOCHS, batchSize: BATCH_SIZE, learningRate: LEARNING_RATE, optimizer: 'adam', seed: SEED,
    onProgress: (p) => {
      const epoch = p.samples / splits.train.count;
      if (progress.length === 0 || epoch - progress.at(-1)!.epoch >= 0.5) {
        progress.push({ epoch: Number(epoch.toFixed(2)), loss: Number(p.loss.toFixed(4)), seconds: Number(p.seconds.toFixed(1)) });
        console.log(`epoch ${epoch.toFixed(2)}/${EPOCHS}: loss ${p.loss.toFixed(4)}, ${p.seconds.toFixed(0)} s`);
      }
    },
  });
  const { ir, seconds } = result;
  const valAccuracy = await accuracy(ir, splits.validation);
  const testAccuracy = await accuracy(ir, splits.test);
  console.log(`trained in ${seconds.toFixed(0)} s; val accuracy ${valAccuracy.toFixed(4)}, test accuracy ${testAccuracy.toFixed(4)}`);
  if (testAccuracy < MIN_TEST_ACCURACY) throw new Error(`test accuracy ${testAccuracy} is below ${MIN_TEST_ACCURACY}; the baseline was not written`);
  const { modelJsonPath, bytes } = await writeModel(ir, OUT_DIR);
  const record = {
    script: 'examples/fashion-resnet/train.ts',
    engine: result.engine,
    seed: SEED,
    data: { source: 'idx', dir: FASHION_MNIST, validationFraction: VALIDATION_FRACTION, fingerprint: splits.fingerprint },
    counts: { train: splits.train.count, validation: splits.validation.count, test: splits.test.count },
    optimizer: { name: 'adam', learningRate: LEARNING_RATE, schedule: 'cosine to 0 over all epochs' },
    batchSize: BATCH_SIZE,
    epochs: EPOCHS,
    progress,
    valAccuracy,
    testAccuracy,
    trainSeconds: Math.round(seconds),
  };
  await writeFile(join(OUT_DIR, 'training.json'), `${JSON.stringify(record, null, 2)}\n`);
  console.log(`wrote ${modelJsonPath} (${bytes} bytes) and training.json`);
}

await main();
