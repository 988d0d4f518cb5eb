/**
 * The MobileNetV2 bench input, written to a folder: model.json + weights and spec.json. The network
 * (bench/mobilenet-v2.ts) starts from seeded convolutions with BatchNormalization statistics calibrated on a few
 * images; then its top (blocks 13–16, Conv_1, the classifier: 1.7M of its 2.2M weights) is trained on the bench's
 * task, Fashion-MNIST's classes folded into 4 (SUPERCLASS), on images of its own (bench/mobilenet-train.ts).
 * Trained, the top holds what a trained network holds and pruning can find: channels that matter less than others.
 * (The fixture before it — random features under a linear probe — lost accuracy at every cut: a poor stand-in.)
 * Built once per spec and kept (`prepareMobileNetBench` reuses a folder whose spec.json matches); the images are
 * regenerated from Fashion-MNIST by `loadMobileNetBenchData` (seeded), so nothing large is stored but the model.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArraysInput } from '../pipeline/data/arrays.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { writeModel } from '../pipeline/io/write-model.ts';
import { testAccuracy } from '../pipeline/recovery/distill.ts';
import { fashionMnistImages, type ImageSet } from './images.ts';
import { trainMobileNetTop, type TopTraining } from './mobilenet-train.ts';
import { buildMobileNetV2, calibrateMobileNet, type MobileNetV2Options } from './mobilenet-v2.ts';

export interface MobileNetBenchSpec extends Required<Omit<MobileNetV2Options, 'fromBlock' | 'bnMomentum'>> {
  /** Images in the train split (validation is carved from it) and the test split. */
  train: number;
  test: number;
  /** Images the BatchNormalization statistics are calibrated on. */
  calibrate: number;
  /** How the network's top is trained (on images after the bench's train images: none of them is seen). */
  top: TopTraining;
}

/** The top trains on 2,048 images for one epoch (~6 minutes at 6 samples/s, once; its test accuracy: README). */
export const MOBILENET_BENCH: MobileNetBenchSpec = {
  alpha: 1, size: 224, classes: 4, seed: 1, train: 1024, test: 256, calibrate: 32,
  top: { fromBlock: 13, images: 2048, epochs: 1, batchSize: 32, learningRate: 1e-3 },
};

/**
 * Fashion-MNIST's 10 classes folded into 4: tops (T-shirt, pullover, coat, shirt), trousers and dresses, footwear
 * (sandal, sneaker, ankle boot), bags.
 */
const SUPERCLASS = [0, 1, 0, 1, 0, 2, 0, 2, 3, 2];

const specFile = (dir: string) => join(dir, 'spec.json');

/** Builds and writes the model and its spec into `dir` unless they are there already for the same spec. */
export async function prepareMobileNetBench(dir: string, spec = MOBILENET_BENCH, log: (line: string) => void = () => {}): Promise<string> {
  const modelJson = join(dir, 'model', 'model.json');
  if (existsSync(modelJson) && existsSync(specFile(dir)) && JSON.stringify(JSON.parse(readFileSync(specFile(dir), 'utf8')).spec) === JSON.stringify(spec)) {
    log(`mobilenet fixture: reusing ${modelJson}`);
    return modelJson;
  }
  mkdirSync(dir, { recursive: true });
  const started = performance.now();
  const model = buildMobileNetV2(spec);
  const calib = await fashionMnistImages('train', spec.calibrate, spec.size, spec.seed + 100);
  const images = tf.tensor4d(calib.x, [calib.count, ...calib.sampleShape]);
  calibrateMobileNet(model, images);
  images.dispose();
  const calibrated = await irFromTfjsModel(model);
  model.dispose();
  // The top learns from images of its own, after the bench's train images in the same permutation: none of the
  // bench's train, validation or test images is one it was trained on.
  const trained = await trainMobileNetTop(calibrated, spec, spec.top, (offset, count) => benchImages('train', spec, spec.train + offset, count), log);
  const test = await benchImages('test', spec);
  const accuracy = await testAccuracy(trained.ir, { ...test, numClasses: spec.classes }, 16);
  log(`mobilenet fixture: top trained in ${trained.seconds.toFixed(0)} s (final loss ${trained.loss.toFixed(3)}); accuracy on the bench's test images ${accuracy.toFixed(3)}; built in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  // Written beside, then moved in: an interrupted build leaves no model a later run would take for finished.
  const staging = join(dir, 'model.partial');
  rmSync(staging, { recursive: true, force: true });
  await writeModel(trained.ir, staging);
  rmSync(join(dir, 'model'), { recursive: true, force: true });
  renameSync(staging, join(dir, 'model'));
  writeFileSync(specFile(dir), JSON.stringify({ spec, testAccuracy: accuracy }));
  return modelJson;
}

async function benchImages(split: 'train' | 'test', spec: MobileNetBenchSpec, offset = 0, count = split === 'train' ? spec.train : spec.test): Promise<ImageSet> {
  const set = await fashionMnistImages(split, count, spec.size, spec.seed + (split === 'train' ? 200 : 300), offset);
  return { ...set, y: Int32Array.from(set.y, (c) => SUPERCLASS[c]!) };
}

/** The config's `data.load()` for the bench: the same images with their Fashion-MNIST labels. */
export async function loadMobileNetBenchData(dir: string): Promise<ArraysInput> {
  const stored = JSON.parse(readFileSync(specFile(dir), 'utf8')) as { spec: MobileNetBenchSpec };
  const train = await benchImages('train', stored.spec);
  const test = await benchImages('test', stored.spec);
  return {
    train: { x: train.x, y: train.y },
    test: { x: test.x, y: test.y },
    sampleShape: train.sampleShape,
    numClasses: stored.spec.classes,
  };
}
