/**
 * Regenerates the trained digit models the int8 tests quantise (residual-digits/, mobilenet-digits/): held-out-style
 * nets (a residual net with BN; a MobileNet-style depthwise net) trained on the `mnist` package's digits, so that
 * "int8 within a point of float" is measured on models that actually classify. Seeded and reproducible:
 *
 *   node --import tsx test/pipeline/formats/tflite/trained/generate.ts
 *
 * Weights start from seeded Glorot-uniform draws (BN at identity) and train with tfjs's own fit (BN in training mode,
 * so the moving statistics become the real ones) for 3 epochs of Adam on the 8,000 digits in a seeded order.
 */
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { loadMnistPackage } from '../../../../../pipeline/data/mnist-package.ts';
import { subset } from '../../../../../pipeline/data/splits.ts';
import { initEngine } from '../../../../../pipeline/engine.ts';
import { measureQuality, tfjsPredictor } from '../../../../../pipeline/evaluate.ts';
import { irFromTfjsModel } from '../../../../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../../../../pipeline/io/write-model.ts';
import { createRng, permutation } from '../../../../../pipeline/random.ts';
import { mobileNetStyle, residualDigits } from '../models.ts';

const HERE = path.dirname(new URL(import.meta.url).pathname);

/** Glorot-uniform kernels from a seeded stream; biases and BN shifts 0, BN scales and variances 1, means 0. */
function glorotInit(model: tf.LayersModel, seed: number): void {
  const rng = createRng(seed);
  const values = model.weights.map((w) => {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const name = w.originalName;
    if (/gamma|moving_variance/.test(name)) return tf.ones(shape);
    if (!/kernel/.test(name)) return tf.zeros(shape);
    const receptive = shape.slice(0, -2).reduce((a, b) => a * b, 1);
    const depthwise = /depthwise_kernel/.test(name);
    const fanIn = depthwise ? receptive : receptive * shape[shape.length - 2]!;
    const fanOut = depthwise ? receptive * shape[shape.length - 1]! : receptive * shape[shape.length - 1]!;
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return tf.tensor(Float32Array.from({ length: n }, () => (rng.next() * 2 - 1) * limit), shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}

await initEngine('wasm');
const mnist = loadMnistPackage();
const train = subset(mnist.train, permutation(mnist.train.count, createRng(3)));
const x = tf.tensor(train.x, [train.count, ...train.sampleShape]);
const y = tf.oneHot(tf.tensor1d(train.y, 'int32'), 10);
for (const [folder, model] of [['residual-digits', residualDigits()], ['mobilenet-digits', mobileNetStyle(5, [28, 28, 1], 10)]] as const) {
  glorotInit(model, 17);
  const started = performance.now();
  model.compile({ optimizer: tf.train.adam(2e-3), loss: 'categoricalCrossentropy' });
  await model.fit(x, y, { epochs: 3, batchSize: 64, shuffle: false, verbose: 0 });
  const ir = await irFromTfjsModel(model);
  const predictor = await tfjsPredictor(ir);
  const { accuracy } = await measureQuality(predictor, mnist.test, 256);
  predictor.dispose();
  await writeModel(ir, path.join(HERE, folder));
  console.log(`${folder}: trained in ${((performance.now() - started) / 1000).toFixed(0)} s, test accuracy ${(accuracy * 100).toFixed(2)}%`);
}
