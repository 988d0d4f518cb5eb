import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { initEngine } from '../../../pipeline/engine.ts';
import { after, before, describe, test } from 'node:test';
import { SlimnetError } from '../../../pipeline/errors.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { serializeModel, writeModel } from '../../../pipeline/io/write-model.ts';
import { functionalResidual, predictFlat, randomInputs, sequentialCnn } from '../../fixtures/models.ts';

let root: string;
let n = 0;
before(async () => {
  await initEngine('wasm');
  root = await mkdtemp(join(tmpdir(), 'slimnet-read-model-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes model.json (object or raw text) and files into a fresh directory; returns the model.json path. */
async function writeRaw(modelJson: unknown, files: Record<string, Uint8Array> = {}): Promise<string> {
  const dir = join(root, `m${n++}`);
  await mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), bytes);
  }
  const path = join(dir, 'model.json');
  await writeFile(path, typeof modelJson === 'string' ? modelJson : JSON.stringify(modelJson));
  return path;
}

/** Asserts a SlimnetError with this code whose `where` satisfies `where`. */
async function rejectsWith(p: Promise<unknown>, code: string, where: string | RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof SlimnetError, `expected SlimnetError, got ${e}`);
    assert.equal(e.code, code, e.oneLine());
    if (typeof where === 'string') assert.equal(e.where, where, e.oneLine());
    else assert.match(e.where, where, e.oneLine());
    assert.ok(e.hint, 'has a hint');
    return true;
  });
}

const float32Bytes = (...v: number[]) => new Uint8Array(Float32Array.from(v).buffer);

describe('readModel: formats', () => {
  test('old Sequential file (bare layer array, keras 2) loads and predicts x·W + b', async () => {
    const path = await writeRaw(
      {
        modelTopology: {
          class_name: 'Sequential',
          keras_version: '2.1.6',
          backend: 'tensorflow',
          config: [{ class_name: 'Dense', config: { name: 'd', units: 2, activation: 'linear', use_bias: true, batch_input_shape: [null, 3], dtype: 'float32' } }],
        },
        weightsManifest: [{ paths: ['w.bin'], weights: [{ name: 'd/kernel', shape: [3, 2], dtype: 'float32' }, { name: 'd/bias', shape: [2], dtype: 'float32' }] }],
      },
      { 'w.bin': float32Bytes(1, 2, 3, 4, 5, 6, 0.5, -1) },
    );
    const ir = await readModel(path);
    assert.deepEqual(ir.layers.map((l) => [l.name, l.className, l.inputs]), [['d_input', 'InputLayer', []], ['d', 'Dense', ['d_input']]]);
    assert.equal(ir.kerasVersion, '2.1.6');
    const model = await buildTfjsModel(ir);
    const y = model.predict(tf.tensor2d([[1, 1, 2]])) as tf.Tensor;
    // [1,1,2] · [[1,2],[3,4],[5,6]] + [0.5,-1] = [14.5, 17]
    assert.deepEqual(Array.from(await y.data()), [14.5, 17]);
    tf.dispose(y);
    model.dispose();
  });

  test("converter layout (model_config + training_config) with an explicit InputLayer", async () => {
    const path = await writeRaw(
      {
        modelTopology: {
          keras_version: '2.15.0',
          backend: 'tensorflow',
          model_config: {
            class_name: 'Sequential',
            config: {
              name: 'seq',
              layers: [
                { class_name: 'InputLayer', config: { batch_input_shape: [null, 2], dtype: 'float32', sparse: false, name: 'inp' } },
                { class_name: 'Dense', config: { name: 'dense', units: 1, use_bias: false } },
              ],
            },
          },
          training_config: { loss: 'mse' },
        },
        format: 'layers-model',
        weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: [{ name: 'dense/kernel', shape: [2, 1], dtype: 'float32' }] }],
      },
      { 'group1-shard1of1.bin': float32Bytes(2, -3) },
    );
    const ir = await readModel(path);
    assert.equal(ir.name, 'seq');
    assert.deepEqual(ir.inputs, ['inp']);
    assert.deepEqual(ir.layers[1].weights, [{ name: 'kernel', shape: [2, 1], values: Float32Array.of(2, -3) }]);
  });

  test('several groups and shards, a weight spanning two shards, shard paths in a sub-folder', async () => {
    const original = sequentialCnn();
    const ir = await irFromTfjsModel(original);
    const { modelJson, shards } = serializeModel(ir);
    const bytes = shards[0];
    const weights = modelJson.weightsManifest[0].weights;
    const convBytes = (9 * 4 + 4) * 4; // conv kernel 3x3x1x4 + bias 4, float32
    // Group 1: conv weights cut at an odd byte (inside the kernel); group 2: dense weights in a sub-folder.
    const path = await writeRaw(
      { ...modelJson, weightsManifest: [{ paths: ['a1.bin', 'a2.bin'], weights: weights.slice(0, 2) }, { paths: ['w/b1.bin'], weights: weights.slice(2) }] },
      { 'a1.bin': bytes.slice(0, 37), 'a2.bin': bytes.slice(37, convBytes), 'w/b1.bin': bytes.slice(convBytes) },
    );
    assert.deepEqual(await readModel(path), ir);
    const stock = await tf.loadLayersModel(fileLoadHandler(path));
    const inputs = randomInputs(original);
    assert.deepEqual(await predictFlat(stock, inputs), await predictFlat(original, inputs));
    tf.dispose(inputs);
    stock.dispose();
    original.dispose();
  });

  test('optimizer weights are skipped but their bytes are accounted for', async () => {
    const ir = await irFromTfjsModel(sequentialCnn());
    const { modelJson, shards } = serializeModel(ir);
    const opt = { name: 'Adam/iter', shape: [1], dtype: 'float32', group: 'optimizer' };
    const json = { ...modelJson, weightsManifest: [{ paths: ['s.bin'], weights: [opt, ...modelJson.weightsManifest[0].weights] }] };
    const bytes = new Uint8Array(4 + shards[0].length);
    bytes.set(shards[0], 4);
    assert.deepEqual(await readModel(await writeRaw(json, { 's.bin': bytes })), ir);
  });
});

describe('readModel: errors name the file, shard, layer or weight', () => {
  async function validModel(): Promise<{ ir: ModelIR; json: ReturnType<typeof serializeModel>['modelJson']; bytes: Uint8Array }> {
    const ir = await irFromTfjsModel(functionalResidual());
    const { modelJson, shards } = serializeModel(ir);
    return { ir, json: modelJson, bytes: shards[0] };
  }

  test('missing model.json / not JSON / no modelTopology / GraphModel', async () => {
    const missing = join(root, 'nope', 'model.json');
    await rejectsWith(readModel(missing), 'MODEL_NOT_FOUND', missing);
    const notJson = await writeRaw('{"modelTopology": ');
    await rejectsWith(readModel(notJson), 'MODEL_INVALID', notJson);
    const noTopology = await writeRaw({ weightsManifest: [] });
    await rejectsWith(readModel(noTopology), 'MODEL_INVALID', noTopology);
    const graphModel = await writeRaw({ modelTopology: { node: [], library: {} }, format: 'graph-model' });
    await rejectsWith(readModel(graphModel), 'MODEL_INVALID', graphModel);
  });

  test('missing shard is MODEL_NOT_FOUND naming the shard; short shard is MODEL_INVALID naming it', async () => {
    const { json, bytes } = await validModel();
    const noShard = await writeRaw(json);
    await rejectsWith(readModel(noShard), 'MODEL_NOT_FOUND', join(dirname(noShard), 'group1-shard1of1.bin'));
    const short = await writeRaw(json, { 'group1-shard1of1.bin': bytes.slice(0, bytes.length - 4) });
    await rejectsWith(readModel(short), 'MODEL_INVALID', join(dirname(short), 'group1-shard1of1.bin'));
  });

  test('a weight of no layer, a layer missing a weight, an unexpected weight name', async () => {
    const { json, bytes } = await validModel();
    const rename = (from: string, to: string) => ({
      ...json,
      weightsManifest: [{ ...json.weightsManifest[0], weights: json.weightsManifest[0].weights.map((w) => (w.name === from ? { ...w, name: to } : w)) }],
    });
    const files = { 'group1-shard1of1.bin': bytes };
    await rejectsWith(readModel(await writeRaw(rename('conv_a/bias', 'ghost/bias'), files)), 'MODEL_INVALID', 'weight "ghost/bias"');
    await rejectsWith(readModel(await writeRaw(rename('bn_a/gamma', 'relu_a/gamma'), files)), 'MODEL_INVALID', /^(layer "bn_a"|weight "relu_a\/gamma")$/);
    await rejectsWith(readModel(await writeRaw(rename('head/bias', 'head/offset'), files)), 'MODEL_INVALID', /^(layer "head"|weight "head\/offset")$/);
    const dropped = { ...json, weightsManifest: [{ ...json.weightsManifest[0], weights: json.weightsManifest[0].weights.filter((w) => w.name !== 'head/bias') }] };
    const head = await writeRaw(dropped, { 'group1-shard1of1.bin': bytes.slice(0, bytes.length - 3 * 4) });
    await rejectsWith(readModel(head), 'MODEL_INVALID', 'layer "head"');
    // bn_b was built with center: false, so it must have no beta.
    const bnB = json.weightsManifest[0].weights.filter((w) => w.name.startsWith('bn_b/')).map((w) => w.name);
    assert.deepEqual(bnB, ['bn_b/gamma', 'bn_b/moving_mean', 'bn_b/moving_variance']);
  });

  test('shared layers, nested models, cycles and dangling references in the topology', async () => {
    const { json, bytes } = await validModel();
    const files = { 'group1-shard1of1.bin': bytes };
    const edit = (f: (layers: any[]) => void) => {
      const copy = structuredClone(json) as any;
      f(copy.modelTopology.config.layers);
      return writeRaw(copy, files);
    };
    const byName = (layers: any[], name: string) => layers.find((l) => l.name === name);
    await rejectsWith(readModel(await edit((ls) => byName(ls, 'proj').inbound_nodes.push([['relu_a', 0, 0, {}]]))), 'LAYER_UNSUPPORTED', 'layer "proj"');
    await rejectsWith(readModel(await edit((ls) => (byName(ls, 'residual').inbound_nodes[0][1][1] = 1))), 'LAYER_UNSUPPORTED', 'layer "proj"');
    await rejectsWith(readModel(await edit((ls) => (byName(ls, 'gap').class_name = 'Sequential'))), 'LAYER_UNSUPPORTED', 'layer "gap"');
    await rejectsWith(readModel(await edit((ls) => (byName(ls, 'conv_a').inbound_nodes = [[['relu_a', 0, 0, {}]]]))), 'MODEL_INVALID', /layer "(conv_a|bn_a|relu_a)"/);
    await rejectsWith(readModel(await edit((ls) => (byName(ls, 'cat').inbound_nodes[0][0][0] = 'nowhere'))), 'MODEL_INVALID', 'layer "cat"');
    // The head reads relu_a directly: the layers in between lead to no output (tfjs would drop them and refuse their weights).
    const bypass = readModel(await edit((ls) => (byName(ls, 'gap').inbound_nodes = [[['relu_a', 0, 0, {}]]])));
    await rejectsWith(bypass, 'MODEL_INVALID', /^layer "/);
    await assert.rejects(bypass, /does not lead to any of the model's outputs \(head\)/);
  });

  test('a layer name TF.js cannot load is a named error; a config name that differs from the layer name follows it', async () => {
    const { json, bytes } = await validModel();
    const files = { 'group1-shard1of1.bin': bytes };
    const copy = structuredClone(json) as any;
    copy.modelTopology.config.layers.find((l: any) => l.name === 'gap').config.name = 'something else';
    const ir = await readModel(await writeRaw(copy, files));
    assert.equal(ir.layers.find((l) => l.name === 'gap')!.keras.name, 'gap');
    // A name quoted by a damaged file (the fuzzer's JSON-stringified value) was tfjs's 'Not a valid tensor name' (exit 3).
    const quoted = structuredClone(json) as any;
    const input = quoted.modelTopology.config.layers[0];
    for (const l of quoted.modelTopology.config.layers) for (const node of l.inbound_nodes ?? []) for (const e of node) if (e[0] === input.name) e[0] = `"${input.name}"`;
    quoted.modelTopology.config.input_layers[0][0] = `"${input.name}"`;
    input.name = input.config.name = `"${input.name}"`;
    const file = await writeRaw(quoted, files);
    await rejectsWith(readModel(file), 'MODEL_INVALID', file);
    await assert.rejects(readModel(file), /layer #0 \(InputLayer\) is named "\\"\w+\\"", which TF\.js cannot load/);
  });

  test('Sequential without an input shape names its first layer', async () => {
    const path = await writeRaw({ modelTopology: { class_name: 'Sequential', config: { name: 's', layers: [{ class_name: 'Dense', config: { name: 'd0', units: 1 } }] } } });
    await rejectsWith(readModel(path), 'MODEL_INVALID', 'layer "d0"');
  });

  test('the file order of a functional topology need not be topological', async () => {
    const { ir, json, bytes } = await validModel();
    const copy = structuredClone(json) as any;
    copy.modelTopology.config.layers.reverse();
    const read = await readModel(await writeRaw(copy, { 'group1-shard1of1.bin': bytes }));
    const seen = new Set<string>();
    for (const l of read.layers) {
      for (const i of l.inputs) assert.ok(seen.has(i), `${l.name} after ${i}`);
      seen.add(l.name);
    }
    assert.deepEqual(new Set(read.layers.map((l) => l.name)), new Set(ir.layers.map((l) => l.name)));
  });
});

test('writeModel -> readModel is lossless for float32', async () => {
  const ir = await irFromTfjsModel(functionalResidual());
  const { modelJsonPath } = await writeModel(ir, join(root, 'lossless'), { shardBytes: 64 });
  assert.deepEqual(await readModel(modelJsonPath), ir);
});
