/**
 * Transfer-learning shape: a functional model whose second layer is a nested Sequential "base". slimnet flattens
 * it; the result must compute what the Keras file defines (independent reference, 1e-5), from a Keras 3 .keras
 * (weights under layers/sequential/layers/<class>/vars) and from a tf.keras 2 .h5 (the base's weights in one
 * group, trainable ones first).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { zipSync } from 'fflate';
import { initEngine } from '../../../../pipeline/engine.ts';
import { createPredictor } from '../../../../pipeline/evaluate.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { referenceForward } from '../../../fixtures/keras/reference.ts';
import { keras2Config, keras3Config, makeWeights, type LayerSpec, type ModelSpec } from '../../../fixtures/keras/spec.ts';
import { h5Bytes } from '../../../fixtures/keras/write.ts';

const BASE_LAYERS: LayerSpec[] = [
  { name: 'conv2d', kind: 'conv2d', filters: 4, kernel: 3, padding: 'same', activation: 'linear' },
  { name: 'batch_normalization', kind: 'bn' },
  { name: 're_lu', kind: 'relu' },
  { name: 'conv2d_1', kind: 'conv2d', filters: 6, kernel: 3, padding: 'valid', activation: 'relu' },
  { name: 'max_pooling2d', kind: 'maxpool', pool: 2 },
];
const INPUT: LayerSpec = { name: 'input_layer', kind: 'input', shape: [12, 12, 1] };
const HEAD: LayerSpec[] = [
  { name: 'global_average_pooling2d', kind: 'gap' },
  { name: 'dense', kind: 'dense', units: 4, activation: 'softmax' },
];
/** The same model without nesting: what the reference runs. */
const FLAT: ModelSpec = { name: 'flat', functional: false, layers: [INPUT, ...BASE_LAYERS, ...HEAD] };
const BASE: ModelSpec = { name: 'base', functional: false, layers: [{ ...INPUT, name: 'base_input' } as LayerSpec, ...BASE_LAYERS] };
/** Only for its layer entries: a functional chain input -> head. */
const CHAIN: ModelSpec = {
  name: 'transfer', functional: true, layers: [INPUT, { ...HEAD[0]!, inputs: ['input_layer'] } as LayerSpec, { ...HEAD[1]!, inputs: ['global_average_pooling2d'] } as LayerSpec],
};
const weights = makeWeights(FLAT, 13);
let dir: string;

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-nested-'));
  await initEngine('wasm');
});

/** The outer functional config with the base spliced in between the input and the head. */
function transferConfig(keras3: boolean): Record<string, unknown> {
  const outer = (keras3 ? keras3Config(CHAIN) : keras2Config(CHAIN)) as { config: { layers: Array<Record<string, unknown>> } };
  const base = (keras3 ? keras3Config(BASE) : keras2Config(BASE)) as Record<string, unknown>;
  const tensor = (name: string, node: number) => ({ class_name: '__keras_tensor__', config: { shape: [null, 12, 12, 1], dtype: 'float32', keras_history: [name, node, 0] } });
  base.name = 'base';
  base.inbound_nodes = keras3 ? [{ args: [tensor('input_layer', 0)], kwargs: {} }] : [[['input_layer', 0, 0, {}]]];
  const [input, gap, dense] = outer.config.layers;
  // A nested model's own node 0 links its input to its output; Keras numbers the outer call 1.
  gap!.inbound_nodes = keras3 ? [{ args: [tensor('base', 1)], kwargs: {} }] : [[['base', 1, 0, {}]]];
  outer.config.layers = [input!, base, gap!, dense!];
  return outer as Record<string, unknown>;
}

async function assertMatches(file: string): Promise<void> {
  const { ir } = await loadModel(file);
  assert.deepEqual(ir.layers.map((l) => l.name), ['input_layer', ...BASE_LAYERS.map((l) => l.name), 'global_average_pooling2d', 'dense']);
  const rng = createRng(2);
  const x = Float32Array.from({ length: 3 * 144 }, () => rng.next());
  const predictor = await createPredictor(ir, 'auto');
  const got = await predictor.predict(x, 3, [12, 12, 1]);
  predictor.dispose();
  for (let s = 0; s < 3; s++) {
    const want = referenceForward(FLAT, weights, x.subarray(s * 144, (s + 1) * 144));
    want.forEach((v, c) => assert.ok(Math.abs(v - got[s * 4 + c]!) <= 1e-5, `sample ${s} class ${c}: ${got[s * 4 + c]} vs ${v}`));
  }
}

test('a nested Sequential in a Keras 3 .keras is flattened and computes the same model', async () => {
  const h5 = await h5Bytes((f) => {
    const put = (group: string, name: string) => {
      let g = f as unknown as { get(p: string): unknown; create_group(n: string): unknown };
      for (const part of `${group}/vars`.split('/')) {
        g = ((g.get(part) as typeof g | null) ?? (g.create_group(part), g.get(part))) as typeof g;
      }
      weights.get(name)!.forEach((v, i) => (g as unknown as { create_dataset(o: object): void }).create_dataset({ name: String(i), data: v.values, shape: v.shape, dtype: '<f' }));
    };
    put('layers/sequential/layers/conv2d', 'conv2d');
    put('layers/sequential/layers/batch_normalization', 'batch_normalization');
    put('layers/sequential/layers/conv2d_1', 'conv2d_1');
    put('layers/dense', 'dense');
  });
  const file = path.join(dir, 'transfer.keras');
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  writeFileSync(file, zipSync({ 'metadata.json': text({ keras_version: '3.6.0' }), 'config.json': text(transferConfig(true)), 'model.weights.h5': h5 }, { level: 0 }));
  await assertMatches(file);
});

test('a data-augmentation Sequential before the base (Keras numbers it `sequential`, the base `sequential_1`) is left out, the base read from its own group', async () => {
  const h5 = await h5Bytes((f) => {
    const group = (path: string) => {
      let g = f as unknown as { get(p: string): unknown; create_group(n: string): unknown };
      for (const part of path.split('/')) g = ((g.get(part) as typeof g | null) ?? (g.create_group(part), g.get(part))) as typeof g;
      return g as unknown as { create_dataset(o: object): void };
    };
    const put = (path: string, name: string) => weights.get(name)!.forEach((v, i) => group(`${path}/vars`).create_dataset({ name: String(i), data: v.values, shape: v.shape, dtype: '<f' }));
    // Keras 3 writes a vars group for every layer, weightless ones too, and a RandomFlip's seed generator state.
    for (const aug of ['random_flip', 'random_rotation']) {
      group(`layers/sequential/layers/${aug}/vars`);
      group(`layers/sequential/layers/${aug}/seed_generator/vars`).create_dataset({ name: '0', data: Int32Array.of(1337, 0), shape: [2], dtype: '<i' });
    }
    put('layers/sequential_1/layers/conv2d', 'conv2d');
    put('layers/sequential_1/layers/batch_normalization', 'batch_normalization');
    put('layers/sequential_1/layers/conv2d_1', 'conv2d_1');
    put('layers/dense', 'dense');
  });
  const config = transferConfig(true) as { config: { layers: Array<Record<string, unknown>> } };
  const tensor = (name: string, node: number) => ({ class_name: '__keras_tensor__', config: { shape: [null, 12, 12, 1], dtype: 'float32', keras_history: [name, node, 0] } });
  const layer = (class_name: string, config: Record<string, unknown>) => ({ module: 'keras.layers', class_name, config: { trainable: true, dtype: 'float32', ...config }, registered_name: null, build_config: { input_shape: [null, 12, 12, 1] } });
  const augment = {
    module: 'keras', class_name: 'Sequential', registered_name: null, name: 'augment', inbound_nodes: [{ args: [tensor('input_layer', 0)], kwargs: {} }],
    config: { name: 'augment', trainable: true, dtype: 'float32', layers: [
      { module: 'keras.layers', class_name: 'InputLayer', config: { batch_shape: [null, 12, 12, 1], dtype: 'float32', sparse: false, name: 'augment_input' }, registered_name: null },
      layer('RandomFlip', { name: 'random_flip', mode: 'horizontal', seed: null, data_format: 'channels_last' }),
      layer('RandomRotation', { name: 'random_rotation', factor: 0.1, fill_mode: 'reflect', interpolation: 'bilinear', seed: null, fill_value: 0, data_format: 'channels_last' }),
    ] },
  };
  const [input, base, ...head] = config.config.layers;
  base!.inbound_nodes = [{ args: [tensor('augment', 1)], kwargs: {} }];
  config.config.layers = [input!, augment, base!, ...head];
  const file = path.join(dir, 'augmented-transfer.keras');
  const text = (v: unknown) => new TextEncoder().encode(JSON.stringify(v));
  writeFileSync(file, zipSync({ 'metadata.json': text({ keras_version: '3.6.0' }), 'config.json': text(config), 'model.weights.h5': h5 }, { level: 0 }));
  await assertMatches(file);
});

test("a nested Sequential in a tf.keras 2 .h5: the base's weights in one group, trainable first", async () => {
  const trainableFirst: Array<[string, string, number]> = [
    ['conv2d', 'kernel', 0], ['conv2d', 'bias', 1], ['batch_normalization', 'gamma', 0], ['batch_normalization', 'beta', 1],
    ['conv2d_1', 'kernel', 0], ['conv2d_1', 'bias', 1], ['batch_normalization', 'moving_mean', 2], ['batch_normalization', 'moving_variance', 3],
  ];
  const bytes = await h5Bytes((f) => {
    f.create_attribute('model_config', JSON.stringify(transferConfig(false)));
    f.create_attribute('keras_version', '2.12.0');
    const mw = f.create_group('model_weights') as unknown as { create_attribute(n: string, v: unknown): void };
    mw.create_attribute('layer_names', ['input_layer', 'base', 'global_average_pooling2d', 'dense']);
    const group = (p: string) => {
      let at = '';
      for (const part of p.split('/')) {
        const next = at ? `${at}/${part}` : part;
        if (!f.get(next)) (at ? (f.get(at) as unknown as { create_group(n: string): void }) : f).create_group(part);
        at = next;
      }
      return f.get(at) as unknown as { create_attribute(n: string, v: unknown): void; create_dataset(o: object): void };
    };
    group('model_weights/base').create_attribute('weight_names', trainableFirst.map(([l, w]) => `${l}/${w}:0`));
    for (const [l, w, i] of trainableFirst) {
      const v = weights.get(l)![i]!;
      group(`model_weights/base/${l}`).create_dataset({ name: `${w}:0`, data: v.values, shape: v.shape, dtype: '<f' });
    }
    group('model_weights/dense').create_attribute('weight_names', ['dense/kernel:0', 'dense/bias:0']);
    weights.get('dense')!.forEach((v, i) => group('model_weights/dense/dense').create_dataset({ name: `${['kernel', 'bias'][i]}:0`, data: v.values, shape: v.shape, dtype: '<f' }));
    for (const empty of ['input_layer', 'global_average_pooling2d']) group(`model_weights/${empty}`);
  });
  const file = path.join(dir, 'transfer.h5');
  writeFileSync(file, bytes);
  await assertMatches(file);
});
