/**
 * Weight storage through model.json: a quantised TF.js model read and written again keeps its bytes; int8 storage,
 * which the tfjs format cannot say, survives slimnet's own model.json while stock tfjs still loads the values.
 */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { before, describe, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { writeModel } from '../../../pipeline/io/write-model.ts';
import { quantizeModel, storageDtype } from '../../../pipeline/weight-storage.ts';
import { saveConverterStyle } from '../../fixtures/converter-quantized.ts';
import { depthwiseNet, functionalResidual, predictFlat, randomInputs } from '../../fixtures/models.ts';

let root: string;
before(async () => {
  await initEngine('wasm');
  root = mkdtempSync(join(tmpdir(), 'slimnet-stored-weights-'));
});

/** All shard bytes of a model, concatenated in manifest order. */
function weightBytes(modelJson: string): Buffer {
  const groups = (JSON.parse(readFileSync(modelJson, 'utf8')) as { weightsManifest: { paths: string[] }[] }).weightsManifest;
  return Buffer.concat(groups.flatMap((g) => g.paths).map((p) => readFileSync(join(dirname(modelJson), p))));
}

interface Entry { name: string; shape: number[]; dtype: string; quantization?: { dtype: string; scale?: number; min?: number } }
function manifest(modelJson: string): Entry[] {
  return (JSON.parse(readFileSync(modelJson, 'utf8')) as { weightsManifest: { weights: Entry[] }[] }).weightsManifest.flatMap((g) => g.weights);
}

describe('read → write keeps the weight bytes of a converter-written model', () => {
  for (const quantization of ['float32', 'uint8', 'uint16', 'float16'] as const) {
    test(quantization, async () => {
      const model = functionalResidual();
      // Small shards, so weights span shard boundaries on both sides.
      const input = await saveConverterStyle(model, join(root, `conv-${quantization}`), quantization, 300);
      const ir = await readModel(input);
      for (const l of ir.layers) for (const w of l.weights) assert.equal(storageDtype(w), quantization, `${l.name}/${w.name}`);
      const { modelJsonPath } = await writeModel(ir, join(root, `out-${quantization}`), { shardBytes: 300 });
      assert.ok(weightBytes(modelJsonPath).equals(weightBytes(input)), 'the same weight bytes');
      const strip = (e: Entry) => ({ name: e.name, shape: e.shape, dtype: e.dtype, ...(e.quantization ? { q: [e.quantization.dtype, e.quantization.scale, e.quantization.min] } : {}) });
      assert.deepEqual(manifest(modelJsonPath).map(strip), manifest(input).map(strip), 'the same manifest entries');
      assert.deepEqual(await readModel(modelJsonPath), ir);
      // Stock tfjs computes the same from both files.
      const [a, b] = [await tf.loadLayersModel(fileLoadHandler(input)), await tf.loadLayersModel(fileLoadHandler(modelJsonPath))];
      const x = randomInputs(model);
      assert.deepEqual(await predictFlat(b, x), await predictFlat(a, x));
      tf.dispose(x);
      for (const m of [model, a, b]) m.dispose();
    });
  }
});

describe('int8 storage through model.json', () => {
  const cases = [
    { label: 'per tensor, affine: written as tfjs uint8', spec: { dtype: 'int8', symmetric: false } as const, bytesPerValue: 1 },
    { label: 'per tensor, symmetric: written as tfjs uint8', spec: { dtype: 'int8', symmetric: true } as const, bytesPerValue: 1 },
    { label: 'per channel: written as float32 values', spec: { dtype: 'int8', symmetric: true, axis: 0 } as const, bytesPerValue: 4 },
  ];
  for (const { label, spec, bytesPerValue } of cases) {
    test(label, async () => {
      const model = depthwiseNet();
      const ir = quantizeModel(await irFromTfjsModel(model), spec);
      const { modelJsonPath } = await writeModel(ir, join(root, `int8-${label.replace(/\W+/g, '-')}`));
      const values = ir.layers.flatMap((l) => l.weights).reduce((n, w) => n + w.values.length, 0);
      assert.equal(weightBytes(modelJsonPath).length, values * bytesPerValue);
      assert.deepEqual(await readModel(modelJsonPath), ir, 'int8 storage survives');
      const stock = await tf.loadLayersModel(fileLoadHandler(modelJsonPath));
      const fromIr = await buildTfjsModel(ir);
      const x = randomInputs(model);
      assert.deepEqual(await predictFlat(stock, x), await predictFlat(fromIr, x), 'stock tfjs computes the IR\'s values');
      tf.dispose(x);
      for (const m of [model, stock, fromIr]) m.dispose();
    });
  }

  test('a damaged slimnet.int8 key is one error naming the weight', async () => {
    const ir = quantizeModel(await irFromTfjsModel(functionalResidual()), { dtype: 'int8', symmetric: true, axis: 3 }, (l, w) => l.name === 'conv_a' && w.name === 'kernel');
    const { modelJsonPath } = await writeModel(ir, join(root, 'int8-damaged'));
    const json = JSON.parse(readFileSync(modelJsonPath, 'utf8'));
    const entry = json.weightsManifest[0].weights.find((w: Entry) => w.name === 'conv_a/kernel');
    for (const [damage, message] of [
      [(e: { slimnet: { int8: { scales: number[]; axis?: number } } }) => e.slimnet.int8.scales.pop(), /scales must be 4/],
      [(e: { slimnet: { int8: { scales: number[]; axis?: number } } }) => (e.slimnet.int8.scales[0] = e.slimnet.int8.scales[0]! * 2), /does not reproduce value/],
      [(e: { slimnet: { int8: { scales: number[]; axis?: number } } }) => (e.slimnet.int8.axis = 7), /axis 7/],
    ] as const) {
      const copy = structuredClone(json);
      damage(copy.weightsManifest[0].weights.find((w: Entry) => w.name === entry.name));
      writeFileSync(modelJsonPath, JSON.stringify(copy));
      await assert.rejects(readModel(modelJsonPath), (e: unknown) => isSlimnetError(e) && e.where === 'weight "conv_a/kernel"' && message.test(e.message));
    }
  });
});

test('int8 with a tfjs shipping format: the cache keeps int8 exactly; the stock export writes that manifest format, which tfjs loads', async () => {
  const source = await irFromTfjsModel(functionalResidual());
  const ir = quantizeModel(source, { dtype: 'int8', symmetric: true, axis: 3, tfjs: 'uint8' }, (_l, w) => w.name === 'kernel' && w.shape.length === 4);
  const kernels = ir.layers.flatMap((l) => l.weights.filter((w) => w.storage?.dtype === 'int8').map((w) => ({ name: `${l.name}/${w.name}`, w })));
  assert.ok(kernels.length > 0);
  // Stage models and the cache: exact int8, the tfjs decision kept in the slimnet key.
  const own = await writeModel(ir, join(root, 'int8-tfjs-own'));
  const back = await readModel(own.modelJsonPath);
  for (const { name, w } of kernels) {
    const [layer, weight] = name.split('/');
    const r = back.layers.find((l) => l.name === layer)!.weights.find((x) => x.name === weight)!;
    assert.deepEqual(r.values, w.values, name);
    assert.equal(r.storage?.dtype === 'int8' && r.storage.tfjs, 'uint8', name);
  }
  // The TF.js export: uint8 manifest entries without the slimnet key, loaded by stock tfjs.
  const stock = await writeModel(ir, join(root, 'int8-tfjs-stock'), { stockTfjs: true });
  const entries = manifest(stock.modelJsonPath) as Array<Entry & { slimnet?: unknown }>;
  for (const { name } of kernels) {
    const e = entries.find((x) => x.name === name)!;
    assert.equal(e.quantization?.dtype, 'uint8', name);
    assert.equal(e.slimnet, undefined, name);
  }
  assert.ok(stock.bytes < own.bytes);
  const model = await tf.loadLayersModel(fileLoadHandler(stock.modelJsonPath));
  model.dispose();
});
