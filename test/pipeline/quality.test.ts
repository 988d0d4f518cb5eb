import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeSplits } from '../../pipeline/data/splits.ts';
import type { LabelledSet } from '../../pipeline/data/types.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { measureQuality, type Predictor } from '../../pipeline/evaluate.ts';
import { FidelityMeter } from '../../pipeline/fidelity.ts';
import { labelWithTeacher, resolveQuality } from '../../pipeline/quality.ts';

test('the metric follows the task and where labels come from', () => {
  assert.deepEqual(resolveQuality('classify', undefined, true), { task: 'classify', labels: 'data', metric: 'accuracy' });
  assert.deepEqual(resolveQuality('classify', undefined, false), { task: 'classify', labels: 'teacher', metric: 'agreement' });
  assert.deepEqual(resolveQuality('classify', 'teacher', true), { task: 'classify', labels: 'teacher', metric: 'agreement' });
  assert.deepEqual(resolveQuality('regress', undefined, false), { task: 'regress', labels: 'teacher', metric: 'relative-mse' });
  assert.deepEqual(resolveQuality('regress', 'teacher', true), { task: 'regress', labels: 'teacher', metric: 'relative-mse' });
  for (const [task, labelled] of [['regress', true], ['classify', false]] as const) {
    assert.throws(() => resolveQuality(task, 'data', labelled), (e) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && e.where === 'labels');
  }
});

test('relative MSE and PSNR against the teacher, batch by batch', () => {
  const meter = new FidelityMeter();
  meter.add(new Float32Array([1, 2]), new Float32Array([1, 2]));
  assert.equal(meter.relativeMse(), 0);
  assert.equal(meter.psnr(), null);
  meter.add(new Float32Array([0, 4]), new Float32Array([2, 4]));
  // Σ(out − t)² = 4, Σ t² = 1 + 4 + 4 + 16 = 25; MSE 4/4 = 1 over a target range of 3.
  assert.ok(Math.abs(meter.relativeMse() - 4 / 25) < 1e-12);
  assert.ok(Math.abs(meter.psnr()! - 10 * Math.log10(9)) < 1e-12);
  const broken = new FidelityMeter();
  broken.add(new Float32Array([Number.NaN]), new Float32Array([1]));
  assert.equal(broken.relativeMse(), Infinity);
});

/** A "model" that adds `shift` to each of a sample's two values. */
const shifted = (shift: number): Predictor => ({
  engine: 'test', dispose: () => {},
  predict: async (x) => x.map((v) => v + shift),
});

function set(values: number[]): LabelledSet {
  return { x: new Float32Array(values), y: new Int32Array(values.length / 2), count: values.length / 2, sampleShape: [2], numClasses: 1 };
}

test('the teacher labels every split: outputs as targets (regress), top-1 class as y (classify); the fingerprint changes', async () => {
  const data = makeSplits(set([1, 3, 2, 0, 5, 4, 0, 1, 2, 2]), set([3, 1, 1, 3]), { validationFraction: 0.4, seed: 1, describe: {}, labelled: false });
  const regress = await labelWithTeacher(data, resolveQuality('regress', undefined, false), shifted(0), 2);
  assert.deepEqual(Array.from(regress.test.targets!), [3, 1, 1, 3]);
  assert.notEqual(regress.fingerprint, data.fingerprint);
  // The teacher itself scores 1 (relative MSE 0); a model off by 1 everywhere scores 1 − Σ1 / Σt².
  assert.deepEqual(await measureQuality(shifted(0), regress.test, 3), { accuracy: 1, loss: 0, count: 2, relativeMse: 0, psnr: null });
  const off = await measureQuality(shifted(1), regress.test, 3);
  assert.ok(Math.abs(off.relativeMse! - 4 / 20) < 1e-7 && Math.abs(off.accuracy - 0.8) < 1e-7, JSON.stringify(off));
  const classify = await labelWithTeacher(data, resolveQuality('classify', undefined, false), shifted(0), 2);
  assert.deepEqual(Array.from(classify.test.y), [0, 1]);
  assert.equal(classify.test.numClasses, 2);
  assert.equal(classify.test.targets, undefined);
  assert.equal((await measureQuality(shifted(0), classify.test, 8)).accuracy, 1, 'the teacher agrees with itself');
  assert.notEqual(classify.fingerprint, regress.fingerprint);
  assert.equal(await labelWithTeacher(data, resolveQuality('classify', 'data', true), shifted(0), 2), data, 'data labels: unchanged');
});
