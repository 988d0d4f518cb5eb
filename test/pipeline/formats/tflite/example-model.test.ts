/** The bundled example's trained baseline as float32 TFLite: loaded from disk in the TFLite runtime, it matches tfjs on MNIST digits. */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadMnistPackage } from '../../../../pipeline/data/mnist-package.ts';
import { takeFirst } from '../../../../pipeline/data/splits.ts';
import { initEngine } from '../../../../pipeline/engine.ts';
import { predictSet, tfjsPredictor } from '../../../../pipeline/evaluate.ts';
import { exportTflite } from '../../../../pipeline/formats/tflite/export.ts';
import { tflitePredictor } from '../../../../pipeline/formats/tflite/runtime.ts';
import { readModel } from '../../../../pipeline/io/read-model.ts';
import { checkParity } from '../../../../pipeline/parity.ts';
import { tempDir } from './helpers.ts';
import { needsValidator } from '../../../helpers/validators.ts';

const EXAMPLE = new URL('../../../../examples/mnist-cnn/model/model.json', import.meta.url).pathname;

// The pipeline's own engine: what the export stage's parity check compares against.
before(() => initEngine('wasm'));

test("the example's trained model matches tfjs on 500 MNIST test digits, loaded from disk", async (t) => {
  if (!needsValidator(t, 'tflite-runtime')) return;
  const ir = await readModel(EXAMPLE);
  const file = join(tempDir(), 'mnist_cnn.tflite');
  writeFileSync(file, exportTflite(ir));
  const digits = takeFirst(loadMnistPackage().test, 500);
  const reference = await tfjsPredictor(ir);
  const expected = await predictSet(reference, digits, 250);
  reference.dispose();
  const candidate = tflitePredictor(new Uint8Array(readFileSync(file)));
  const r = checkParity({ reference: expected, candidate: await predictSet(candidate, digits, 250), samples: 500, labels: digits.y });
  candidate.dispose();
  assert.equal(r.top1Agreement, 1);
  assert.ok(r.maxAbsDiff <= 1e-4, String(r.maxAbsDiff));
  assert.equal(r.accuracy, r.referenceAccuracy);
  assert.ok(r.accuracy! > 0.9, `accuracy ${r.accuracy}`);
});
