import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../../pipeline/engine.ts';
import { after, before, describe, test } from 'node:test';
import { writeFileAtomic } from '../../../pipeline/io/atomic.ts';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { serializeModel, slimnetVersion, writeModel } from '../../../pipeline/io/write-model.ts';
import { roundTripValues } from '../../../pipeline/io/weights.ts';
import { quantizeModel } from '../../../pipeline/weight-storage.ts';
import { countParams } from '../../../pipeline/ir.ts';
import { functionalResidual, predictFlat, randomInputs, sequentialCnn } from '../../fixtures/models.ts';

let root: string;
before(async () => {
  await initEngine('wasm');
  root = await mkdtemp(join(tmpdir(), 'slimnet-write-model-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('writeModel layout', () => {
  test('model.json fields, shard names, byte count, weights spanning shards', async () => {
    const ir = await irFromTfjsModel(sequentialCnn());
    const dir = join(root, 'layout');
    const res = await writeModel(ir, dir, { shardBytes: 200 });
    const weightBytes = countParams(ir) * 4;
    const count = Math.ceil(weightBytes / 200);
    const shardNames = Array.from({ length: count }, (_, i) => `group1-shard${i + 1}of${count}.bin`);
    assert.deepEqual((await readdir(dir)).sort(), [...shardNames, 'model.json'].sort());
    assert.deepEqual(res.files, [...shardNames.map((s) => join(dir, s)), join(dir, 'model.json')]);
    assert.equal(res.modelJsonPath, join(dir, 'model.json'));
    let onDisk = 0;
    for (const f of res.files) onDisk += (await stat(f)).size;
    assert.equal(res.bytes, onDisk);
    const json = JSON.parse(await readFile(res.modelJsonPath, 'utf8'));
    assert.equal(json.format, 'layers-model');
    assert.equal(json.convertedBy, `slimnet ${slimnetVersion()}`);
    assert.equal(json.modelTopology.class_name, 'Model');
    assert.equal(json.modelTopology.keras_version, ir.kerasVersion);
    assert.deepEqual(json.weightsManifest[0].paths, shardNames);
    assert.deepEqual(json.weightsManifest[0].weights.map((w: { name: string }) => w.name), ['conv/kernel', 'conv/bias', 'fc1/kernel', 'fc1/bias', 'fc2/kernel', 'fc2/bias']);
    assert.equal(onDisk - (await stat(res.modelJsonPath)).size, weightBytes);
  });

  test('serializeModel is deterministic (usable for hashing)', async () => {
    const ir = await irFromTfjsModel(functionalResidual());
    assert.deepEqual(serializeModel(ir), serializeModel(structuredClone(ir)));
  });

  test('rewriting a folder keeps unrelated files, drops stale shards, leaves no temp files', async () => {
    const ir = await irFromTfjsModel(sequentialCnn());
    const dir = join(root, 'rewrite');
    await writeModel(ir, dir, { shardBytes: 100 });
    await writeFile(join(dir, 'notes.txt'), 'keep me');
    await writeModel(ir, dir);
    assert.deepEqual((await readdir(dir)).sort(), ['group1-shard1of1.bin', 'model.json', 'notes.txt']);
    assert.deepEqual(await readModel(join(dir, 'model.json')), ir);
    assert.deepEqual((await readdir(root)).filter((f) => f.includes('.tmp-')), []);
  });

  test('a failed write leaves nothing behind', async () => {
    const ir = await irFromTfjsModel(sequentialCnn());
    const blocker = join(root, 'blocker');
    await writeFile(blocker, 'a file where a folder is needed');
    await assert.rejects(writeModel(ir, join(blocker, 'model')));
    // A weight whose values no longer match its stored codes (a stage bug) is refused before anything is written.
    const stale = quantizeModel(ir, { dtype: 'uint8' });
    stale.layers[1]!.weights[0]!.values[0]! += 0.5;
    await assert.rejects(writeModel(stale, join(root, 'never')), /weight "conv\/kernel": values\[0\].*withValues/);
    assert.deepEqual((await readdir(root)).filter((f) => f.includes('.tmp-') || f === 'never'), []);
  });
});

describe('quantised writing', () => {
  for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
    test(`${dtype}: stock tfjs loads it and predicts exactly what slimnet's IR of the file predicts`, async () => {
      const original = functionalResidual();
      const ir = await irFromTfjsModel(original);
      const quantised = quantizeModel(ir, { dtype });
      const res = await writeModel(quantised, join(root, `q-${dtype}`));
      const float = await writeModel(ir, join(root, `f-${dtype}`));
      const expectedRatio = dtype === 'uint8' ? 4 : 2;
      // Both fit one shard: files[0] is group1-shard1of1.bin.
      const qWeights = (await stat(res.files[0])).size;
      const fWeights = (await stat(float.files[0])).size;
      assert.equal(qWeights * expectedRatio, fWeights);
      const read = await readModel(res.modelJsonPath);
      // The IR holds what tfjs will load (the dequantised values), and keeps the storage they came in.
      assert.deepEqual(read, quantised);
      for (const [li, layer] of ir.layers.entries()) {
        for (const [wi, w] of layer.weights.entries()) assert.deepEqual(read.layers[li].weights[wi].values, roundTripValues(w.values, dtype));
      }
      const stock = await tf.loadLayersModel(fileLoadHandler(res.modelJsonPath));
      const fromIr = await buildTfjsModel(read);
      const inputs = randomInputs(original);
      const [a, b, orig] = [await predictFlat(stock, inputs), await predictFlat(fromIr, inputs), await predictFlat(original, inputs)];
      assert.deepEqual(a, b);
      const maxDiff = Math.max(...orig[0].map((v, i) => Math.abs(v - a[0][i])));
      assert.ok(maxDiff < (dtype === 'uint8' ? 0.1 : 0.01), `max output change ${maxDiff}`);
      tf.dispose(inputs);
      for (const m of [original, stock, fromIr]) m.dispose();
    });
  }

  test('each weight is written in its own storage', async () => {
    const ir = await irFromTfjsModel(functionalResidual());
    const { modelJson } = serializeModel(quantizeModel(ir, { dtype: 'uint8' }, (layer, w) => layer.className === 'Conv2D' && w.name === 'kernel'));
    const quantised = modelJson.weightsManifest[0].weights.filter((w) => w.quantization).map((w) => w.name);
    assert.deepEqual(quantised, ['conv_a/kernel', 'proj/kernel', 'side/kernel']);
  });
});

describe('atomic helpers', () => {
  test('writeFileAtomic creates parents and replaces content', async () => {
    const file = join(root, 'atomic', 'deep', 'x.json');
    await writeFileAtomic(file, '1');
    await writeFileAtomic(file, '2');
    assert.equal(await readFile(file, 'utf8'), '2');
    assert.deepEqual(await readdir(join(root, 'atomic', 'deep')), ['x.json']);
  });
});
