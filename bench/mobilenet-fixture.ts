/**
 * The MobileNetV2 bench input, written to a folder: model.json + weights and spec.json. The network
 * (bench/mobilenet-v2.ts) keeps its seeded random convolutions with BatchNormalization statistics calibrated on a
 * few images; its classifier is then fitted on the network's own pooled features (a linear probe: softmax
 * regression on images of its own) to Fashion-MNIST's classes folded into 4 (SUPERCLASS). A model whose top-1
 * choice were the argmax of a random head flips on any perturbation (measured: pruning half of any single group
 * left 12–65% agreement), which says nothing about pruning; a probe on real classes gives a real task to keep.
 * The images are regenerated from Fashion-MNIST by `loadMobileNetBenchData` (seeded), so nothing large is stored.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import type { ArraysInput } from '../pipeline/data/arrays.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { writeModel } from '../pipeline/io/write-model.ts';
import { openActivationReader } from '../pipeline/calibrate.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { concatTyped } from '../pipeline/typed-arrays.ts';
import { fashionMnistImages, type ImageSet } from './images.ts';
import { buildMobileNetV2, calibrateMobileNet, type MobileNetV2Options } from './mobilenet-v2.ts';

export interface MobileNetBenchSpec extends Required<MobileNetV2Options> {
  /** Images in the train split (validation is carved from it) and the test split. */
  train: number;
  test: number;
  /** Images the BatchNormalization statistics are calibrated on. */
  calibrate: number;
}

export const MOBILENET_BENCH: MobileNetBenchSpec = { alpha: 1, size: 224, classes: 4, seed: 1, train: 1024, test: 256, calibrate: 32 };

/**
 * Fashion-MNIST's 10 classes folded into 4: tops (T-shirt, pullover, coat, shirt), trousers and dresses, footwear
 * (sandal, sneaker, ankle boot), bags. A probe on random features tells the 10 classes apart only 45% of the time
 * with small margins, so any perturbation flips it; these 4 it tells apart ~75% of the time with margins 3–4× wider.
 */
const SUPERCLASS = [0, 1, 0, 1, 0, 2, 0, 2, 3, 2];

const labelsFile = (dir: string) => join(dir, 'spec.json');

/** Builds and writes the model and its labels into `dir` unless they are there already for the same spec. */
export async function prepareMobileNetBench(dir: string, spec = MOBILENET_BENCH, log: (line: string) => void = () => {}): Promise<string> {
  const modelJson = join(dir, 'model', 'model.json');
  if (existsSync(modelJson) && existsSync(labelsFile(dir)) && JSON.stringify(JSON.parse(readFileSync(labelsFile(dir), 'utf8')).spec) === JSON.stringify(spec)) return modelJson;
  mkdirSync(dir, { recursive: true });
  const model = buildMobileNetV2(spec);
  const calib = await fashionMnistImages('train', spec.calibrate, spec.size, spec.seed + 100);
  const images = tf.tensor4d(calib.x, [calib.count, ...calib.sampleShape]);
  calibrateMobileNet(model, images);
  images.dispose();
  const ir = await irFromTfjsModel(model);
  model.dispose();
  // The probe learns from images of its own, after the bench's train images in the same permutation: none of the
  // bench's train, validation or test images is one it was fitted on.
  const probe = await benchImages('train', spec, spec.train);
  const test = await benchImages('test', spec);
  const head = ir.layers.find((l) => l.name === 'predictions')!;
  const [probeFeatures, testFeatures] = [await pooledFeatures(ir, probe), await pooledFeatures(ir, test)];
  const { kernel, bias } = fitSoftmax(probeFeatures, probe.y, spec.classes);
  log(`mobilenet fixture: linear probe fitted on ${probe.count} images; accuracy on the bench's test images ${accuracyOf(testFeatures, test.y, kernel, bias).toFixed(3)}`);
  tf.dispose([probeFeatures, testFeatures]);
  head.weights.find((w) => w.name === 'kernel')!.values = kernel;
  head.weights.find((w) => w.name === 'bias')!.values = bias;
  await writeModel(ir, join(dir, 'model'));
  writeFileSync(labelsFile(dir), JSON.stringify({ spec }));
  return modelJson;
}

/** The GlobalAveragePooling2D output of every image, on onnxruntime, 16 images at a time. */
async function pooledFeatures(ir: ModelIR, set: ImageSet): Promise<tf.Tensor2D> {
  const reader = await openActivationReader(ir, ['global_average_pooling2d']);
  const per = set.x.length / set.count;
  const rows: Float32Array[] = [];
  try {
    for (let start = 0; start < set.count; start += 16) {
      const n = Math.min(16, set.count - start);
      rows.push((await reader.read(set.x.subarray(start * per, (start + n) * per), n, set.sampleShape)).global_average_pooling2d!);
    }
  } finally {
    reader.dispose();
  }
  const width = rows[0]!.length / Math.min(16, set.count);
  return tf.tensor2d(concatTyped(rows, Float32Array), [set.count, width]);
}

/**
 * Multinomial logistic regression (full-batch Adam, L2 0.01, 200 steps) on centred features scaled by one global
 * factor — per-feature standardisation would multiply the weights of near-constant features and make the logits
 * fragile — folded back into the Dense weights.
 */
function fitSoftmax(features: tf.Tensor2D, y: Int32Array, classes: number): { kernel: Float32Array; bias: Float32Array } {
  return tf.tidy(() => {
    const mean = tf.mean(features, 0);
    const centred = tf.sub(features, mean);
    const scale = tf.sqrt(tf.mean(tf.square(centred)));
    const x = tf.div(centred, scale);
    const labels = tf.oneHot(tf.tensor1d(y, 'int32'), classes);
    const w = tf.variable(tf.zeros([features.shape[1], classes]));
    const b = tf.variable(tf.zeros([classes]));
    const optimizer = tf.train.adam(0.01);
    for (let i = 0; i < 200; i++) {
      optimizer.minimize(() => tf.add(tf.losses.softmaxCrossEntropy(labels, tf.add(tf.matMul(x, w), b)), tf.mul(0.01, tf.sum(tf.square(w)))) as tf.Scalar);
    }
    // logits = ((f − μ) / s)·W + b = f·(W / s) + (b − (μ / s)·W)
    const kernel = tf.div(w, scale);
    const bias = tf.sub(b, tf.squeeze(tf.matMul(tf.reshape(tf.div(mean, scale), [1, -1]), w)));
    const out = { kernel: kernel.dataSync() as Float32Array, bias: bias.dataSync() as Float32Array };
    optimizer.dispose();
    return out;
  });
}

function accuracyOf(features: tf.Tensor2D, y: Int32Array, kernel: Float32Array, bias: Float32Array): number {
  return tf.tidy(() => {
    const logits = tf.add(tf.matMul(features, tf.tensor2d(kernel, [features.shape[1], bias.length])), tf.tensor1d(bias));
    return tf.mean(tf.cast(tf.equal(tf.argMax(logits, 1), tf.tensor1d(y, 'int32')), 'float32')).dataSync()[0]!;
  });
}

async function benchImages(split: 'train' | 'test', spec: MobileNetBenchSpec, offset = 0): Promise<ImageSet> {
  const set = await fashionMnistImages(split, split === 'train' ? spec.train : spec.test, spec.size, spec.seed + (split === 'train' ? 200 : 300), offset);
  return { ...set, y: Int32Array.from(set.y, (c) => SUPERCLASS[c]!) };
}

/** The config's `data.load()` for the bench: the same images with their Fashion-MNIST labels. */
export async function loadMobileNetBenchData(dir: string): Promise<ArraysInput> {
  const stored = JSON.parse(readFileSync(labelsFile(dir), 'utf8')) as { spec: MobileNetBenchSpec };
  const train = await benchImages('train', stored.spec);
  const test = await benchImages('test', stored.spec);
  return {
    train: { x: train.x, y: train.y },
    test: { x: test.x, y: test.y },
    sampleShape: train.sampleShape,
    numClasses: stored.spec.classes,
  };
}
