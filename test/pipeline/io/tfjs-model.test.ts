import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initEngine } from '../../../pipeline/engine.ts';
import { after, before, describe, test } from 'node:test';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../../pipeline/io/write-model.ts';
import { depthwiseNet, functionalResidual, mergeNet, predictFlat, randomInputs, sequentialCnn } from '../../fixtures/models.ts';
import { isClass, layerFromKeras } from '../../../pipeline/layers/registry.ts';

let dir: string;
before(async () => {
  await initEngine('wasm');
  dir = await mkdtemp(join(tmpdir(), 'slimnet-tfjs-model-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const builders = { sequentialCnn, functionalResidual, depthwiseNet, mergeNet };

describe('IR <-> tfjs model round trip', () => {
  for (const [name, build] of Object.entries(builders)) {
    test(`${name}: IR-built model predicts exactly what the original predicts`, async () => {
      const original = build();
      const ir = await irFromTfjsModel(original);
      const rebuilt = await buildTfjsModel(ir);
      const inputs = randomInputs(original);
      const [want, got] = [await predictFlat(original, inputs), await predictFlat(rebuilt, inputs)];
      assert.equal(got.length, want.length);
      for (let i = 0; i < want.length; i++) assert.deepEqual(got[i], want[i]);
      // Reading the rebuilt model back gives the same IR (weights bit-identical).
      const again = await irFromTfjsModel(rebuilt);
      assert.deepEqual(again, ir);
      tf.dispose(inputs);
      original.dispose();
      rebuilt.dispose();
    });
  }

  test('stock tf.loadLayersModel on files from writeModel predicts what the IR-built model predicts', async () => {
    for (const [name, build] of Object.entries(builders)) {
      const original = build();
      const ir = await irFromTfjsModel(original);
      // Small shards so weights straddle shard boundaries.
      const { modelJsonPath } = await writeModel(ir, join(dir, name), { shardBytes: 100 });
      const stock = await tf.loadLayersModel(fileLoadHandler(modelJsonPath));
      const fromIr = await buildTfjsModel(await readModel(modelJsonPath));
      const inputs = randomInputs(original, 3, 11);
      const [want, got, orig] = [await predictFlat(fromIr, inputs), await predictFlat(stock, inputs), await predictFlat(original, inputs)];
      for (let i = 0; i < want.length; i++) {
        assert.deepEqual(got[i], want[i], name);
        assert.deepEqual(orig[i], want[i], name);
      }
      tf.dispose(inputs);
      for (const m of [original, stock, fromIr]) m.dispose();
    }
  });

  test('the Sequential model reads back as a functional IR with a synthesised InputLayer', async () => {
    const ir = await irFromTfjsModel(sequentialCnn());
    assert.deepEqual(ir.layers.map((l) => l.className), ['InputLayer', 'Conv2D', 'MaxPooling2D', 'Flatten', 'Dense', 'Dense']);
    assert.deepEqual(ir.inputs, ['conv_input']);
    assert.deepEqual(ir.outputs, ['fc2']);
    assert.deepEqual(ir.layers[0].keras.batch_input_shape, [null, 8, 8, 1]);
    assert.ok(isClass(ir.layers[0], 'InputLayer') && ir.layers[0].config.batchInputShape.join() === ',8,8,1');
    assert.equal(ir.layers[1].keras.batch_input_shape, undefined);
    assert.deepEqual(ir.layers[1].weights.map((w) => [w.name, w.shape]), [['kernel', [3, 3, 1, 4]], ['bias', [4]]]);
    assert.equal(ir.kerasVersion, `tfjs-layers ${tf.version_layers}`);
  });

  test('a class tfjs does not know is a LAYER_UNSUPPORTED error naming the layer', async () => {
    const ir = await irFromTfjsModel(sequentialCnn());
    ir.layers[2] = layerFromKeras({ ...ir.layers[2]!, className: 'FancyPool' });
    await assert.rejects(buildTfjsModel(ir), (e: any) => e.code === 'LAYER_UNSUPPORTED' && e.where === 'layer "pool"');
  });
});

test('the round-trip comparison is sensitive: one changed BN statistic changes the predictions', async () => {
  const original = functionalResidual();
  const ir = await irFromTfjsModel(original);
  const bn = ir.layers.find((l) => l.name === 'bn_a')!;
  bn.weights.find((w) => w.name === 'moving_mean')!.values[1] += 0.25;
  const rebuilt = await buildTfjsModel(ir);
  const inputs = randomInputs(original);
  const [want, got] = [await predictFlat(original, inputs), await predictFlat(rebuilt, inputs)];
  assert.notDeepEqual(got[0], want[0]);
  tf.dispose(inputs);
  original.dispose();
  rebuilt.dispose();
});
