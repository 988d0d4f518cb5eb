import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openActivationReader } from '../../../pipeline/calibrate.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import type { LayerIR } from '../../../pipeline/ir.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { createLayer } from '../../../pipeline/layers/create.ts';
import { layerClass } from '../../../pipeline/layers/registry.ts';
import type { LinearRows } from '../../../pipeline/layers/types.ts';
import { collectRows, rowsWithin, sampleRows } from '../../../pipeline/recovery/calibration-rows.ts';
import { waves } from '../../../pipeline/prune/reconstruct.ts';
import { randomizeWeights } from '../../fixtures/models.ts';
import { randomInputSet } from '../../fixtures/sets.ts';

before(async () => {
  await initEngine('wasm');
});

const conv = (args: { strides?: number }): LayerIR => createLayer('Conv2D', { name: 'c', filters: 4, kernelSize: 3, padding: 'same', ...args }, ['x']);

test('sampled rows never exceed maxRows, whatever the number of calibration images', () => {
  const layer = conv({});
  for (const images of [1, 10, 1000, 100_000]) {
    const s = sampleRows(layer, [56, 56, 8], images, 4096, 1);
    assert.equal(s.rows, Math.min(4096, images * 56 * 56), `${images} images`);
    assert.equal(s.picks.length, s.rows);
    assert.ok(s.images.length <= Math.min(images, 4096));
  }
});

test('rows spread evenly over images, positions distinct within an image, the same for the same seed', () => {
  const s = sampleRows(conv({ strides: 2 }), [20, 20, 4], 30, 1000, 7);
  assert.equal(s.positions, 100); // 10×10 output positions
  const counts = Array.from(s.images, (_, i) => s.starts[i + 1]! - s.starts[i]!);
  assert.ok(Math.max(...counts) - Math.min(...counts) <= 1, `${counts}`);
  for (let i = 0; i < s.images.length; i++) {
    const picks = [...s.picks.subarray(s.starts[i]!, s.starts[i + 1]!)];
    assert.equal(new Set(picks).size, picks.length);
    assert.ok(picks.every((p) => p >= 0 && p < 100));
  }
  assert.deepEqual(sampleRows(conv({ strides: 2 }), [20, 20, 4], 30, 1000, 7).picks, s.picks);
  assert.notDeepEqual(sampleRows(conv({ strides: 2 }), [20, 20, 4], 30, 1000, 8).picks, s.picks);
});

test('a Dense layer on a flat input takes one row per image; more images than rows: a seeded subset of images', () => {
  const dense = createLayer('Dense', { name: 'd', units: 4 }, ['x']);
  const all = sampleRows(dense, [32], 50, 200, 1);
  assert.equal(all.rows, 50);
  const some = sampleRows(dense, [32], 500, 200, 1);
  assert.equal(some.rows, 200);
  assert.equal(some.images.length, 200);
});

test('the rows memory allows shrink with the budget, down to a floor', () => {
  const layer: LayerIR = { ...conv({}), weights: [{ name: 'kernel', shape: [3, 3, 256, 128], values: new Float32Array(0) }] };
  const rich = rowsWithin(layer, 8192, 2 ** 30);
  const poor = rowsWithin(layer, 8192, 64 * 2 ** 20);
  assert.equal(rich, 8192);
  assert.ok(poor < rich && poor >= 64, `${poor}`);
});

test('streamed rows equal im2col of the whole feature maps at the sampled positions (batches of 3)', async () => {
  const input = tf.input({ shape: [9, 9, 2], name: 'in' });
  const a = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'relu', name: 'a' }).apply(input) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', name: 'b' }).apply(a) as tf.SymbolicTensor;
  const m = randomizeWeights(tf.model({ inputs: input, outputs: tf.layers.flatten().apply(b) as tf.SymbolicTensor }), 3);
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const set = randomInputSet([9, 9, 2], 10, 4);
  const order = [7, 2, 9, 0, 4, 1, 8, 3, 5, 6];
  const layer = ir.layers.find((l) => l.name === 'b')!;
  const s = sampleRows(layer, [9, 9, 3], order.length, 37, 5);
  const rows = (await collectRows(ir, [s], { set, order }, { batchSize: 3 })).get('b')!;
  assert.equal(rows.rows, 37);
  assert.equal(rows.features, 27);
  const reader = await openActivationReader(ir, ['a']);
  const whole = await reader.read(set.x, set.count, set.sampleShape);
  reader.dispose();
  const flat: number[] = [];
  s.images.forEach((img, i) => {
    for (let k = s.starts[i]!; k < s.starts[i + 1]!; k++) flat.push(order[img]! * s.positions + s.picks[k]!);
  });
  const expected = (layerClass('Conv2D')!.linearRows as LinearRows).rows(layer.config, whole.a!, [9, 9, 3], flat);
  assert.deepEqual(rows.values, expected);
});

test('waves: consumers that read one another go in order, independent ones share a pass', async () => {
  const input = tf.input({ shape: [6, 6, 2], name: 'in' });
  const p = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'p' }).apply(input) as tf.SymbolicTensor;
  const q1 = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'q1' }).apply(p) as tf.SymbolicTensor;
  const q2 = tf.layers.conv2d({ filters: 4, kernelSize: 1, name: 'q2' }).apply(p) as tf.SymbolicTensor;
  const r = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'r' }).apply(tf.layers.add().apply([q1, q2]) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const m = tf.model({ inputs: input, outputs: r });
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const t = (layer: string) => ({ layer, keptOutputs: [] });
  assert.deepEqual(waves(ir, [t('p'), t('q1'), t('q2'), t('r')]).map((w) => w.map((x) => x.layer)), [['p'], ['q1', 'q2'], ['r']]);
});
