/**
 * Legacy .h5 files written by h5py itself (Debian's python3-h5py, as Keras writes them): byte-string attributes,
 * layer_names split into layer_names0/1/…, float64 weights. The reference reads the weights with h5wasm directly.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initEngine } from '../../../../pipeline/engine.ts';
import { createPredictor } from '../../../../pipeline/evaluate.ts';
import { loadH5wasm } from '../../../../pipeline/io/keras/hdf5.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { referenceForward } from '../../../fixtures/keras/reference.ts';
import { CLASS, CNN, keras2Config, makeWeights, modelLayers, type ModelSpec, type Variable } from '../../../fixtures/keras/spec.ts';

import { needsValidator } from '../../../helpers/validators.ts';

const SCRIPT = path.resolve('test/fixtures/keras/write_legacy_h5.py');
const NAMES: Record<string, string[]> = { Conv2D: ['kernel', 'bias'], BatchNormalization: ['gamma', 'beta', 'moving_mean', 'moving_variance'], Dense: ['kernel', 'bias'] };
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-h5py-'));
  await initEngine('wasm');
});

function writeWithH5py(python: string, file: string, spec: ModelSpec, weights: Map<string, Variable[]>, splitEvery?: number): void {
  const layers = modelLayers(spec).map((l) => ({
    name: l.name,
    weights: (weights.get(l.name) ?? []).map((v, i) => ({
      name: `${l.name}/${NAMES[CLASS[l.kind]]![i]}:0`, shape: v.shape, values: [...v.values], dtype: i === 0 ? 'float64' : 'float32',
    })),
  }));
  const r = spawnSync(python, [SCRIPT], {
    input: JSON.stringify({ path: file, model_config: keras2Config(spec), keras_version: '2.4.0', layers, split_every: splitEvery }),
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `h5py fixture writer failed (python3-h5py installed?): ${r.stderr}`);
}

async function fileWeights(file: string, spec: ModelSpec): Promise<Map<string, Variable[]>> {
  const { h5, module } = await loadH5wasm();
  module.FS.writeFile('/h5py.h5', readFileSync(file));
  const f = new h5.File('/h5py.h5', 'r');
  const out = new Map<string, Variable[]>();
  for (const l of modelLayers(spec)) {
    const names = NAMES[CLASS[l.kind]];
    if (!names) continue;
    out.set(l.name, names.map((n) => {
      const d = f.get(`model_weights/${l.name}/${l.name}/${n}:0`) as InstanceType<typeof h5.Dataset>;
      return { shape: d.shape!.map(Number), values: Float32Array.from(d.value as Float32Array | Float64Array) };
    }));
  }
  f.close();
  module.FS.unlink('/h5py.h5');
  return out;
}

for (const [label, split] of [['byte-string attributes', undefined], ['layer_names split into layer_names0, layer_names1, …', 4]] as const) {
  test(`h5py-written legacy .h5: ${label}`, async (t) => {
    const python = needsValidator(t, 'h5py');
    if (!python) return;
    const weights = makeWeights(CNN, 21);
    const file = path.join(dir, `cnn-${split ?? 'whole'}.h5`);
    writeWithH5py(python, file, CNN, weights, split);
    const { ir, format, kerasVersion } = await loadModel(file);
    assert.equal(format, 'keras-h5');
    assert.equal(kerasVersion, '2.4.0');
    const reference = await fileWeights(file, CNN);
    const x = Float32Array.from({ length: 2 * 144 }, (_, i) => (i % 17) / 17);
    const predictor = await createPredictor(ir, 'auto');
    const got = await predictor.predict(x, 2, [12, 12, 1]);
    predictor.dispose();
    for (let s = 0; s < 2; s++) {
      const want = referenceForward(CNN, reference, x.subarray(s * 144, (s + 1) * 144));
      want.forEach((v, c) => assert.ok(Math.abs(v - got[s * want.length + c]!) <= 1e-5, `sample ${s} class ${c}: ${got[s * want.length + c]} vs ${v}`));
    }
  });
}
