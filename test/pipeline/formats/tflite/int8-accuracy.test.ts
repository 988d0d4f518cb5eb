/**
 * Int8 against float32 TFLite on real data: the bundled example and two held-out-style trained nets (a residual net
 * with BN, a MobileNet-style depthwise net; trained/ says how they were made), calibrated on 512 training digits,
 * both files loaded from disk in the TFLite runtime and scored on the first 1,000 test digits of the `mnist` package
 * (not all 2,000: this runtime's int8 fully-connected kernel is slow on x86, and the suite has a time budget).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { calibrateActivations } from '../../../../pipeline/activation-calibration.ts';
import { loadMnistPackage } from '../../../../pipeline/data/mnist-package.ts';
import { subset } from '../../../../pipeline/data/splits.ts';
import type { DataSplits } from '../../../../pipeline/data/types.ts';
import { initEngine } from '../../../../pipeline/engine.ts';
import { measureQuality } from '../../../../pipeline/evaluate.ts';
import { exportTflite } from '../../../../pipeline/formats/tflite/export.ts';
import { tflitePredictor } from '../../../../pipeline/formats/tflite/runtime.ts';
import { readModel } from '../../../../pipeline/io/read-model.ts';
import { createRng, permutation } from '../../../../pipeline/random.ts';
import { needsValidator } from '../../../helpers/validators.ts';
import { tempDir } from './helpers.ts';

const MODELS = {
  "the bundled example's CNN": new URL('../../../../examples/mnist-cnn/model/model.json', import.meta.url).pathname,
  'a residual net with BN': new URL('./trained/residual-digits/model.json', import.meta.url).pathname,
  'a MobileNet-style depthwise net': new URL('./trained/mobilenet-digits/model.json', import.meta.url).pathname,
};

let mnist: Pick<DataSplits, 'train' | 'test'>;

before(async () => {
  await initEngine('wasm');
  const all = loadMnistPackage();
  mnist = { train: all.train, test: subset(all.test, Array.from({ length: 1000 }, (_, i) => i)) };
});

async function accuracyOf(file: string): Promise<number> {
  const predictor = tflitePredictor(new Uint8Array(readFileSync(file)));
  try {
    return (await measureQuality(predictor, mnist.test, 500)).accuracy;
  } finally {
    predictor.dispose();
  }
}

for (const [what, modelJson] of Object.entries(MODELS)) {
  test(`int8 TFLite of ${what} stays within 1 point of its float32 TFLite on 1,000 test digits`, async (t) => {
    if (!needsValidator(t, 'tflite-runtime')) return;
    const ir = await readModel(modelJson);
    const calibration = subset(mnist.train, permutation(mnist.train.count, createRng(5)).slice(0, 512));
    const dir = tempDir();
    const floatFile = join(dir, 'model.tflite');
    const int8File = join(dir, 'model-int8.tflite');
    writeFileSync(floatFile, exportTflite(ir));
    writeFileSync(int8File, exportTflite(ir, { numerics: 'int8', ranges: (await calibrateActivations(ir, calibration)).ranges }));
    const [floatAccuracy, int8Accuracy] = [await accuracyOf(floatFile), await accuracyOf(int8File)];
    const [floatBytes, int8Bytes] = [readFileSync(floatFile).length, readFileSync(int8File).length];
    t.diagnostic(`float32 ${floatBytes} bytes ${(floatAccuracy * 100).toFixed(2)}%, int8 ${int8Bytes} bytes ${(int8Accuracy * 100).toFixed(2)}%`);
    assert.ok(floatAccuracy > 0.85, `the float model should classify: ${floatAccuracy}`);
    assert.ok(Math.abs(int8Accuracy - floatAccuracy) <= 0.01, `int8 ${int8Accuracy} vs float ${floatAccuracy}`);
    if (what.includes('example')) assert.ok(int8Bytes <= 0.3 * floatBytes, `int8 ${int8Bytes} bytes vs float ${floatBytes}`);
  });
}
