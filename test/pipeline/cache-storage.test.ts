/**
 * The stage cache keeps weight storage and activation calibration: a model restored from the cache is the model
 * that was cached, codes and calibrated ranges included, for a run and for a dry run's look-ahead alike (and a
 * different calibration is a different key).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { calibrateActivations, currentCalibration } from '../../pipeline/activation-calibration.ts';
import { peekCache, readCache, stageCacheKey, writeCache } from '../../pipeline/cache.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { quantizeWeight, type StorageSpec } from '../../pipeline/weight-storage.ts';
import { functionalResidual, sequentialCnn } from '../fixtures/models.ts';
import { inputSet } from './formats/tflite/helpers.ts';

before(async () => {
  await initEngine('wasm');
});

test('every storage survives a cache round trip', async () => {
  const float = await irFromTfjsModel(functionalResidual());
  const specs: StorageSpec[] = [{ dtype: 'uint8' }, { dtype: 'uint16' }, { dtype: 'float16' }, { dtype: 'int8', symmetric: false }, { dtype: 'int8', symmetric: true, axis: 0 }];
  let n = 0;
  // A different storage on each weight, so every kind is in one model.
  const ir: ModelIR = { ...float, layers: float.layers.map((l) => ({ ...l, weights: l.weights.map((w) => quantizeWeight(w, specs[n++ % specs.length]!)) })) };
  assert.deepEqual(await roundTrip(ir), ir);
});

test('the activation calibration survives a cache round trip, and a different calibration is a different key', async () => {
  const ir = await irFromTfjsModel(sequentialCnn());
  const calibrated: ModelIR = { ...ir, calibration: await calibrateActivations(ir, inputSet(sequentialCnn(), 8, 2)) };
  const restored = await roundTrip(calibrated);
  assert.deepEqual(restored.calibration, calibrated.calibration);
  assert.equal(currentCalibration(restored), restored.calibration, 'still describes the restored model');
  const key = (m: ModelIR) => stageCacheKey({ ir: m, stage: 'export', options: {}, dataFingerprint: 'd', seed: 1, evaluation: {}, budget: {}, backend: 'wasm', toolVersion: 't' });
  assert.notEqual(key(calibrated), key(ir));
});

/** `ir` written to a fresh stage cache as a stage's output and read back. */
async function roundTrip(ir: ModelIR): Promise<ModelIR> {
  const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-cache-storage-'));
  const stageDir = path.join(root, 'stage');
  mkdirSync(stageDir);
  const entry = { metrics: { valAccuracy: 1, testAccuracy: 1, loss: 0, params: 0, bytes: 0, macs: 0, latencyMs: 0 }, output: { modelJson: 'model/model.json' } };
  await writeCache(path.join(root, 'cache'), 'k'.repeat(64), stageDir, ir, entry);
  const hit = await readCache(path.join(root, 'cache'), 'k'.repeat(64), path.join(root, 'restored'));
  assert.ok(hit, 'cache hit');
  // A dry run's look-ahead reads the same model (the next stage's key depends on all of it, calibration included).
  const peeked = await peekCache(path.join(root, 'cache'), 'k'.repeat(64));
  assert.deepEqual(peeked?.ir, hit.ir, 'peekCache sees what readCache restores');
  return hit.ir;
}
