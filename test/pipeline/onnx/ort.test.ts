/** createOrtSession / predictOrt / ortPredictor on a real exported model. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { createOrtSession, onnxPredictor, predictOrt } from '../../../pipeline/onnx/ort.ts';
import { checkParity } from '../../../pipeline/parity.ts';
import { sequentialCnn } from '../../fixtures/models.ts';
import { useReferenceBackend } from './helpers.ts';

before(useReferenceBackend);

function randomSet(count: number, sampleShape: number[], seed: number): LabelledSet {
  const x = tf.randomUniform([count, ...sampleShape], 0, 1, 'float32', seed);
  const set: LabelledSet = {
    x: x.dataSync() as Float32Array, y: Int32Array.from({ length: count }, (_, i) => i % 3), count, sampleShape, numClasses: 3,
  };
  x.dispose();
  return set;
}

test('predictOrt in uneven batches equals tfjs on every sample, in order', async () => {
  const model = sequentialCnn();
  const session = await createOrtSession(exportOnnx(await irFromTfjsModel(model)), { threads: 1 });
  const set = randomSet(11, [8, 8, 1], 5);
  const out = await predictOrt(session, set, 4);
  const expected = (model.predict(tf.tensor(set.x, [11, 8, 8, 1])) as tf.Tensor).dataSync() as Float32Array;
  assert.equal(out.length, 33);
  const r = checkParity({ reference: expected, candidate: out, samples: 11, labels: set.y });
  assert.equal(r.top1Agreement, 1);
  assert.ok(r.maxAbsDiff <= 1e-5, String(r.maxAbsDiff));
  // A bare array + shape works too, and the batch size does not change the numbers.
  const whole = await predictOrt(session, { x: set.x, sampleShape: [8, 8, 1] }, 256);
  assert.deepEqual(whole, out);
  await session.release();
});

test('onnxPredictor (export in memory + ORT session) plugs into evaluate.ts as a Predictor', async () => {
  const model = sequentialCnn(2);
  const predictor = await onnxPredictor(await irFromTfjsModel(model), { threads: 1 });
  const set = randomSet(3, [8, 8, 1], 6);
  const out = await predictor.predict(set.x, 3, set.sampleShape);
  const expected = (model.predict(tf.tensor(set.x, [3, 8, 8, 1])) as tf.Tensor).dataSync() as Float32Array;
  assert.ok(checkParity({ reference: expected, candidate: out, samples: 3 }).maxAbsDiff <= 1e-5);
  assert.equal(predictor.engine, 'onnxruntime-node');
  predictor.dispose();
});

test('predictOrt on an empty set returns an empty array', async () => {
  const session = await createOrtSession(exportOnnx(await irFromTfjsModel(sequentialCnn())));
  assert.equal((await predictOrt(session, { x: new Float32Array(0), sampleShape: [8, 8, 1] })).length, 0);
  await session.release();
});
