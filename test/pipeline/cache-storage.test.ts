/** The stage cache keeps weight storage: a model restored from the cache is the model that was cached, codes included. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { readCache, writeCache } from '../../pipeline/cache.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { quantizeWeight, type StorageSpec } from '../../pipeline/weight-storage.ts';
import { functionalResidual } from '../fixtures/models.ts';

before(async () => {
  await initEngine('wasm');
});

test('every storage survives a cache round trip', async () => {
  const float = await irFromTfjsModel(functionalResidual());
  const specs: StorageSpec[] = [{ dtype: 'uint8' }, { dtype: 'uint16' }, { dtype: 'float16' }, { dtype: 'int8', symmetric: false }, { dtype: 'int8', symmetric: true, axis: 0 }];
  let n = 0;
  // A different storage on each weight, so every kind is in one model.
  const ir: ModelIR = { ...float, layers: float.layers.map((l) => ({ ...l, weights: l.weights.map((w) => quantizeWeight(w, specs[n++ % specs.length]!)) })) };
  const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-cache-storage-'));
  const stageDir = path.join(root, 'stage');
  mkdirSync(stageDir);
  const entry = { metrics: { valAccuracy: 1, testAccuracy: 1, loss: 0, params: 0, bytes: 0, macs: 0, latencyMs: 0 }, output: { modelJson: 'model/model.json' } };
  await writeCache(path.join(root, 'cache'), 'k'.repeat(64), stageDir, ir, entry);
  const hit = await readCache(path.join(root, 'cache'), 'k'.repeat(64), path.join(root, 'restored'));
  assert.deepEqual(hit?.ir, ir);
});
