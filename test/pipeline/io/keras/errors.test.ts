/** What cannot be read gets one line naming the file or layer, its class and what to do — never a crash or a wrong model. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { zipSync } from 'fflate';
import { SlimnetError } from '../../../../pipeline/errors.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { keras3Config, makeWeights, MLP, RESIDUAL } from '../../../fixtures/keras/spec.ts';
import { h5Bytes, keras3WeightsH5, legacyH5, writeKerasArchive } from '../../../fixtures/keras/write.ts';
import { needsValidator } from '../../../helpers/validators.ts';

let dir: string;
before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-keras-errors-'));
});

async function rejects(file: string, code: string, ...parts: Array<string | RegExp>): Promise<string> {
  let error: unknown;
  try {
    await loadModel(file);
  } catch (e) {
    error = e;
  }
  assert.ok(error instanceof SlimnetError, `expected a SlimnetError, got ${error instanceof Error ? error.stack : String(error)}`);
  const line = error.oneLine();
  assert.equal(error.code, code, line);
  assert.ok(!line.includes('\n'), `one line: ${line}`);
  if (process.env.SHOW_ERRORS) console.log(line);
  for (const p of parts) assert.match(line, typeof p === 'string' ? new RegExp(p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : p);
  return line;
}

/** A .keras archive of MLP whose config `edit` changes (weights stay the MLP's). */
async function editedArchive(name: string, edit: (config: any) => void): Promise<string> {
  const config = keras3Config(MLP) as any;
  edit(config);
  const file = path.join(dir, name);
  await writeKerasArchive(file, MLP, makeWeights(MLP), { config });
  return file;
}

test('a Lambda layer names the layer, its class and what to do', async () => {
  const file = await editedArchive('lambda.keras', (c) => {
    c.config.layers[2] = { module: 'keras.layers', class_name: 'Lambda', config: { name: 'scale_it', function: { class_name: '__lambda__', config: { value: ['4wEA'] } } }, registered_name: null };
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'layer "scale_it" (Lambda)', 'replace it with built-in layers');
});

test('a custom layer class is refused with its registered name', async () => {
  const file = await editedArchive('custom.keras', (c) => {
    c.config.layers[2] = { module: 'my_project.layers', class_name: 'Gate', config: { name: 'gate', units: 3 }, registered_name: 'MyProject>Gate' };
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'layer "gate" (Gate)', 'MyProject>Gate', 'custom layer');
});

test('a layer quantised by Keras (int8 dtype policy) is refused', async () => {
  const file = await editedArchive('int8.keras', (c) => {
    c.config.layers[1].config.dtype = { module: 'keras', class_name: 'QuantizedDTypePolicy', config: { name: 'int8_from_float32', source_name: 'float32' }, registered_name: null };
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'layer "dense" (Dense)', 'int8_from_float32', 'quantize');
});

test('a subclassed model without a layer graph is refused', async () => {
  const file = await editedArchive('subclassed.keras', (c) => {
    c.module = '__main__';
    c.class_name = 'MyClassifier';
    c.registered_name = 'MyClassifier';
    c.config = { name: 'my_classifier', trainable: true };
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'MyClassifier', 'Sequential or Functional');
});

test("Keras 3's hard_sigmoid (relu6(x + 3) / 6) is refused rather than computed as tfjs's 0.2·x + 0.5", async () => {
  const file = await editedArchive('hard-sigmoid.keras', (c) => {
    c.config.layers[3].config.activation = 'hard_sigmoid';
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'layer "dense_1" (Dense)', 'hard_sigmoid');
});

test('an option tfjs-layers would ignore (grouped convolution) is refused, not dropped', async () => {
  const file = await editedArchive('groups.keras', (c) => {
    c.config.layers[1] = { module: 'keras.layers', class_name: 'Conv1D', config: { name: 'dense', filters: 32, kernel_size: [1], groups: 2, activation: 'relu' }, registered_name: null };
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'layer "dense" (Conv1D)', 'groups = 2');
});

test('a nested subclassed model used as a layer is refused with what to do', async () => {
  const file = await editedArchive('nested.keras', (c) => {
    c.config.layers[2] = { module: 'my_project.models', class_name: 'Functional', config: { name: 'block', layers: [] }, registered_name: 'MyProject>Block' };
  });
  await rejects(file, 'LAYER_UNSUPPORTED', 'layer "block" (Functional)', 'subclassed');
});

test('truncated and corrupt files are one-line MODEL_INVALID errors', async () => {
  const good = path.join(dir, 'good.keras');
  await writeKerasArchive(good, MLP, makeWeights(MLP));
  const bytes = readFileSync(good);
  const cut = path.join(dir, 'cut.keras');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  await rejects(cut, 'MODEL_INVALID', cut);

  const h5 = await legacyH5(MLP, makeWeights(MLP), 'keras2');
  const cutH5 = path.join(dir, 'cut.h5');
  writeFileSync(cutH5, h5.subarray(0, Math.floor(h5.length * 0.7)));
  await rejects(cutH5, 'MODEL_INVALID', cutH5, /truncated|corrupt/);

  const garbage = path.join(dir, 'garbage.h5');
  writeFileSync(garbage, 'not a model at all');
  await rejects(garbage, 'MODEL_INVALID', 'neither a TF.js model.json');

  // An archive whose weights entry is not HDF5.
  const fake = path.join(dir, 'fake-weights.keras');
  writeFileSync(fake, zipSync({ 'config.json': new TextEncoder().encode(JSON.stringify(keras3Config(MLP))), 'model.weights.h5': new Uint8Array(100) }));
  await rejects(fake, 'MODEL_INVALID', 'model.weights.h5', 'not a readable HDF5 file');
});

test('a weights-only .h5 and an archive without weights say how to save the whole model', async () => {
  const weightsOnly = path.join(dir, 'weights-only.h5');
  writeFileSync(weightsOnly, await keras3WeightsH5(MLP, makeWeights(MLP)));
  await rejects(weightsOnly, 'MODEL_INVALID', 'weights only', 'model.save');
  const npz = path.join(dir, 'npz.keras');
  writeFileSync(npz, zipSync({ 'config.json': new TextEncoder().encode(JSON.stringify(keras3Config(MLP))), 'model.weights.npz': new Uint8Array(10) }));
  await rejects(npz, 'MODEL_INVALID', 'model.weights.npz');
});

test('weights that do not match the config name the layer', async () => {
  const weights = makeWeights(MLP);
  weights.get('dense_1')![0] = { shape: [32, 5], values: new Float32Array(160) };
  const file = path.join(dir, 'mismatch.h5');
  writeFileSync(file, await legacyH5(MLP, weights, 'keras3.5'));
  await rejects(file, 'MODEL_INVALID', 'layer "dense_1" (Dense)', '[32,5]', '[32,16]');

  const missing = makeWeights(RESIDUAL);
  missing.delete('batch_normalization');
  const file2 = path.join(dir, 'missing.keras');
  await writeKerasArchive(file2, RESIDUAL, missing);
  await rejects(file2, 'MODEL_INVALID', 'layer "batch_normalization" (BatchNormalization)', 'no weights');
});

test('a dataset declaring far more data than the file holds (shape bomb) is refused before allocating', async (t) => {
  const python = needsValidator(t, 'h5py');
  if (!python) return;
  const file = path.join(dir, 'bomb.h5');
  const script = `
import h5py, json, sys
cfg = json.loads(sys.argv[2])
with h5py.File(sys.argv[1], 'w') as f:
    f.attrs['model_config'] = json.dumps(cfg).encode()
    f.attrs['keras_version'] = b'2.4.0'
    g = f.create_group('model_weights')
    g.attrs['layer_names'] = [b'dense', b'dense_1', b'dense_2']
    for name, shape in [('dense', (144, 32)), ('dense_1', (100000, 100000)), ('dense_2', (16, 4))]:
        l = g.create_group(name)
        l.attrs['weight_names'] = [(name + '/kernel:0').encode(), (name + '/bias:0').encode()]
        l.create_dataset(name + '/kernel:0', shape=shape, dtype='f4', chunks=(1, 16) if name == 'dense_1' else None, compression='gzip' if name == 'dense_1' else None)
        l.create_dataset(name + '/bias:0', shape=(shape[1],), dtype='f4')
`;
  const { keras2Config } = await import('../../../fixtures/keras/spec.ts');
  const r = spawnSync(python, ['-c', script, file, JSON.stringify(keras2Config(MLP))], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  await rejects(file, 'MODEL_INVALID', 'dense_1', 'more than a');
});

test('an unzipped .keras folder missing its weights is not mistaken for a model', async () => {
  const folder = path.join(dir, 'no-weights');
  mkdirSync(folder);
  writeFileSync(path.join(folder, 'config.json'), JSON.stringify(keras3Config(MLP)));
  await rejects(folder, 'MODEL_INVALID', 'config.json + model.weights.h5');
  const h5 = await h5Bytes((f) => f.create_group('nothing'));
  const notKeras = path.join(dir, 'plain.h5');
  writeFileSync(notKeras, h5);
  await rejects(notKeras, 'MODEL_INVALID', 'no model_config');
});
