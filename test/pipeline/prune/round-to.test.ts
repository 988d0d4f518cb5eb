import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { createPlanner, planFromRatios, removalCount } from '../../../pipeline/prune/allocate.ts';
import { removeChannels } from '../../../pipeline/prune/remove-channels.ts';
import { randomizeWeights } from '../../fixtures/models.ts';

before(async () => {
  await initEngine('wasm');
});

test('removalCount rounds the kept count up to a multiple of roundTo', () => {
  assert.equal(removalCount(32, 32, 0.3, 8, 1), 8); // 9.6 → 9 removed → 23 kept → 24
  assert.equal(removalCount(32, 32, 0.3, 1, 1), 9);
  assert.equal(removalCount(32, 32, 0.9, 8, 1), 24); // 28 wanted → 4 kept → 8
  assert.equal(removalCount(6, 6, 0.9, 8, 1), 0); // smaller than roundTo: stays whole
  assert.equal(removalCount(10, 10, 0.5, 8, 1), 2); // 10 → 8
  assert.equal(removalCount(32, 5, 0.9, 4, 1), 4); // only 5 removable: 27 kept → 28
  assert.equal(removalCount(32, 32, 0.9, 4, 9), 20); // minChannels 9 → at least 12 kept
});

/** conv_a (24) → bn → relu → Add with proj (24) → conv_b (20) → GAP → Dense(5): groups of 24 (residual pair) and 20. */
async function model(): Promise<ModelIR> {
  const input = tf.input({ shape: [6, 6, 3] });
  const a = tf.layers.conv2d({ filters: 24, kernelSize: 3, padding: 'same', name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
  const r = tf.layers.reLU({ name: 'relu' }).apply(tf.layers.batchNormalization({ name: 'bn' }).apply(a) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const p = tf.layers.conv2d({ filters: 24, kernelSize: 1, name: 'proj' }).apply(input) as tf.SymbolicTensor;
  const s = tf.layers.add({ name: 'add' }).apply([r, p]) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 20, kernelSize: 3, activation: 'relu', name: 'conv_b' }).apply(s) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 5, activation: 'softmax', name: 'out' }).apply(tf.layers.globalAveragePooling2d({}).apply(b) as tf.SymbolicTensor) as tf.SymbolicTensor;
  const m = randomizeWeights(tf.model({ inputs: input, outputs: out }), 4);
  const ir = await irFromTfjsModel(m);
  m.dispose();
  return ir;
}

test('every pruned layer keeps a multiple of roundTo channels, coupled producers alike', async () => {
  const ir = await model();
  const analysis = analyzeChannels(ir);
  const scores = Float64Array.from({ length: analysis.classCount }, (_, k) => (k * 7919) % 101);
  for (const roundTo of [4, 8]) {
    const planner = createPlanner(analysis, scores, 1, roundTo);
    for (const ratio of [0.1, 0.3, 0.55, 0.8, 0.95]) {
      const pruned = removeChannels(ir, analysis, planFromRatios(planner, new Map(planner.groups.map((g) => [g.id, ratio]))));
      const shapes = inferShapes(pruned);
      for (const layer of ['conv_a', 'proj', 'conv_b']) {
        const c = shapes.get(layer)!.at(-1)!;
        const original = inferShapes(ir).get(layer)!.at(-1)!;
        assert.ok(c === original || c % roundTo === 0, `roundTo ${roundTo}, ratio ${ratio}: ${layer} keeps ${c}`);
      }
      assert.equal(shapes.get('conv_a')!.at(-1), shapes.get('proj')!.at(-1));
    }
  }
});
