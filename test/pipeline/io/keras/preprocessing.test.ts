/**
 * Keras preprocessing layers: Rescaling as tfjs's Rescaling, Normalization (from its config, or adapted: from its
 * mean/variance/count variables) as a Rescaling with per-channel scale and offset. Checked on tfjs against the
 * independent reference, on raw 0–255 inputs.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initEngine } from '../../../../pipeline/engine.ts';
import { createPredictor } from '../../../../pipeline/evaluate.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { referenceForward } from '../../../fixtures/keras/reference.ts';
import { keras3Config, makeWeights, type ModelSpec } from '../../../fixtures/keras/spec.ts';
import { writeKerasArchive } from '../../../fixtures/keras/write.ts';

const SPEC: ModelSpec = {
  name: 'sequential', functional: false, layers: [
    { name: 'input_layer', kind: 'input', shape: [4, 4, 3] },
    { name: 'rescaling', kind: 'rescaling', scale: 1 / 127.5, offset: -1 },
    { name: 'normalization', kind: 'normalization', mean: [0.1, -0.2, 0.3], variance: [0.25, 1.5, 0.04] },
    { name: 'flatten', kind: 'flatten' },
    { name: 'dense', kind: 'dense', units: 3, activation: 'softmax' },
  ],
};
let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-preprocessing-'));
  await initEngine('wasm');
});

async function check(file: string): Promise<void> {
  const { ir } = await loadModel(file);
  assert.deepEqual(ir.layers.map((l) => l.className), ['InputLayer', 'Rescaling', 'Rescaling', 'Flatten', 'Dense']);
  const norm = ir.layers[2]!.keras as { scale: number[]; offset: number[] };
  assert.equal(norm.scale.length, 3);
  assert.equal(norm.offset.length, 3);
  const rng = createRng(4);
  const x = Float32Array.from({ length: 2 * 48 }, () => Math.floor(rng.next() * 256));
  const predictor = await createPredictor(ir, 'tfjs');
  const got = await predictor.predict(x, 2, [4, 4, 3]);
  predictor.dispose();
  const weights = makeWeights(SPEC, 6);
  for (let s = 0; s < 2; s++) {
    const want = referenceForward(SPEC, weights, x.subarray(s * 48, (s + 1) * 48));
    want.forEach((v, c) => assert.ok(Math.abs(v - got[s * 3 + c]!) <= 1e-5, `sample ${s} class ${c}: ${got[s * 3 + c]} vs ${v}`));
  }
}

test('Rescaling and a Normalization with mean/variance in its config', async () => {
  const file = path.join(dir, 'config.keras');
  await writeKerasArchive(file, SPEC, makeWeights(SPEC, 6));
  await check(file);
});

test('an adapted Normalization: mean, variance and count are its variables', async () => {
  const config = keras3Config(SPEC) as { config: { layers: Array<{ config: Record<string, unknown> }> } };
  Object.assign(config.config.layers[2]!.config, { mean: null, variance: null });
  const weights = makeWeights(SPEC, 6);
  weights.set('normalization', [
    { shape: [3], values: Float32Array.from([0.1, -0.2, 0.3]) },
    { shape: [3], values: Float32Array.from([0.25, 1.5, 0.04]) },
    { shape: [], values: Float32Array.from([1000]) },
  ]);
  const file = path.join(dir, 'adapted.keras');
  await writeKerasArchive(file, SPEC, weights, { config });
  await check(file);
});
