/** The bundled example's trained baseline: exported to ONNX, validated by the checker, and matching tfjs on MNIST digits. */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { loadMnistPackage } from '../../../pipeline/data/mnist-package.ts';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { predictSet, tfjsPredictor } from '../../../pipeline/evaluate.ts';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { createOrtSession, predictOrt } from '../../../pipeline/onnx/ort.ts';
import { checkParity } from '../../../pipeline/parity.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import { runOnnxChecker, tempDir } from './helpers.ts';

const EXAMPLE = new URL('../../../examples/mnist-cnn/model/model.json', import.meta.url).pathname;

// The pipeline's own engine: what the export stage's parity check compares against.
before(() => initEngine('wasm'));

/** The first `count` samples of a set. */
function head(set: LabelledSet, count: number): LabelledSet {
  const size = set.sampleShape.reduce((a, b) => a * b, 1);
  return { ...set, x: set.x.subarray(0, count * size), y: set.y.subarray(0, count), count };
}

test("the example's trained model exports, passes onnx.checker and matches tfjs on 500 MNIST test digits", async (t) => {
  const ir = await readModel(EXAMPLE);
  const bytes = exportOnnx(ir);
  const path = join(tempDir(), 'mnist_cnn.onnx');
  writeFileSync(path, bytes);
  // Without the checker the test is reported skipped, and still checks parity below.
  const checked = runOnnxChecker(t, [path]);
  if (checked) assert.ok(checked.ok, checked.output);

  const test500 = head(loadMnistPackage().test, 500);
  const predictor = await tfjsPredictor(ir);
  const reference = await predictSet(predictor, test500, 250);
  predictor.dispose();
  const session = await createOrtSession(bytes, { threads: 1 });
  const candidate = await predictOrt(session, test500, 250);
  await session.release();
  const r = checkParity({ reference, candidate, samples: 500, labels: test500.y });
  assert.equal(r.top1Agreement, 1);
  assert.ok(r.maxAbsDiff <= 1e-4, String(r.maxAbsDiff));
  assert.equal(r.accuracy, r.referenceAccuracy);
  assert.ok(r.accuracy! > 0.9, `accuracy ${r.accuracy}`);
});
