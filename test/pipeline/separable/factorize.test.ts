import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { countParams, type ModelIR, type WeightIR } from '../../../pipeline/ir.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { survey } from '../../../pipeline/separable/candidates.ts';
import { furthestPassing, nearMiss, type PathStep } from '../../../pipeline/separable/search.ts';
import { applyPlan, FactorCache } from '../../../pipeline/separable/replace.ts';
import { measureSizes } from '../../../pipeline/prune/allocate.ts';
import { quantizeWeight, type StorageSpec } from '../../../pipeline/weight-storage.ts';
import { randomInputs, randomizeWeights } from '../../fixtures/models.ts';

before(async () => {
  await initEngine('wasm');
});

/** conv (3×3 same, stride 2, 3 → 16) → conv (2×3 valid, 16 → 12, relu, no bias) → flatten → dense (→ 20, tanh) → dense (→ 7, softmax). */
async function convDenseModel(seed: number): Promise<ModelIR> {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [10, 9, 3], filters: 16, kernelSize: 3, strides: 2, padding: 'same', name: 'c1' }));
  m.add(tf.layers.conv2d({ filters: 12, kernelSize: [2, 3], activation: 'relu', useBias: false, name: 'c2' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 20, activation: 'tanh', name: 'd1' }));
  m.add(tf.layers.dense({ units: 7, activation: 'softmax', name: 'd2' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, seed));
  m.dispose();
  return ir;
}

async function outputs(ir: ModelIR): Promise<Float32Array> {
  const model = await buildTfjsModel(ir);
  const [x] = randomInputs(model, 5, 3);
  const y = model.predict(x!) as tf.Tensor;
  const values = (await y.data()) as Float32Array;
  tf.dispose([x!, y]);
  model.dispose();
  return values;
}

/** Pre-softmax comparisons are stricter, so the last layer's activation is dropped for them. */
const maxAbsDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

test('exact sizes (m = kh·kw, r = full rank) reproduce every replaced layer to 1e-4', async () => {
  for (const seed of [1, 2, 3]) {
    const ir = await convDenseModel(seed);
    const plan = new Map([['c1', 9], ['c2', 6], ['d1', 20], ['d2', 7]]);
    const { ir: replaced, pairs } = applyPlan(ir, plan, new FactorCache(ir));
    assert.equal(pairs.size, 4);
    assert.deepEqual(replaced.layers.map((l) => l.className), ['InputLayer', 'DepthwiseConv2D', 'Conv2D', 'DepthwiseConv2D', 'Conv2D', 'Flatten', 'Dense', 'Dense', 'Dense', 'Dense']);
    const [a, b] = [await outputs(ir), await outputs(replaced)];
    assert.ok(maxAbsDiff(a, b) < 1e-4, `seed ${seed}: max |Δ| ${maxAbsDiff(a, b)}`);
  }
});

test('a random Conv2D alone: the exact depthwise + pointwise pair reproduces its outputs to 1e-4 (pre-activation too)', async () => {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [12, 12, 5], filters: 24, kernelSize: 3, padding: 'valid', name: 'conv' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 9));
  m.dispose();
  const { ir: replaced } = applyPlan(ir, new Map([['conv', 9]]), new FactorCache(ir));
  const [a, b] = [await outputs(ir), await outputs(replaced)];
  assert.ok(maxAbsDiff(a, b) < 1e-4, `max |Δ| ${maxAbsDiff(a, b)}`);
});

test('a full-rank Dense pair reproduces its layer to 1e-4', async () => {
  const m = tf.sequential();
  m.add(tf.layers.dense({ inputShape: [40], units: 25, activation: 'relu', name: 'fc' }));
  const ir = await irFromTfjsModel(randomizeWeights(m, 4));
  m.dispose();
  const { ir: replaced } = applyPlan(ir, new Map([['fc', 25]]), new FactorCache(ir));
  const [a, b] = [await outputs(ir), await outputs(replaced)];
  assert.ok(maxAbsDiff(a, b) < 1e-4, `max |Δ| ${maxAbsDiff(a, b)}`);
});

test('every paying size gives a pair of the declared shape, params and MACs; the rest of the model is unchanged', async () => {
  const ir = await convDenseModel(5);
  const shapes = inferShapes(ir);
  const { candidates } = survey(ir, shapes, { convolutions: true, dense: true });
  assert.deepEqual(candidates.map((c) => c.layer), ['c1', 'c2', 'd1', 'd2']);
  const cache = new FactorCache(ir);
  const macs = countMacs(ir);
  for (const c of candidates) {
    assert.ok(c.options.length > 0);
    for (const o of c.options) {
      assert.ok(o.params < c.params && o.macs < c.macs, `${c.layer} ${o.size} pays`);
      const { ir: replaced, pairs } = applyPlan(ir, new Map([[c.layer, o.size]]), cache);
      const pair = pairs.get(c.layer)!;
      const s = inferShapes(replaced);
      assert.deepEqual(s.get(c.layer), shapes.get(c.layer), 'same output shape, under the same name');
      assert.equal(countParams(replaced) - countParams(ir), o.params - c.params);
      const after = countMacs(replaced);
      assert.equal(after.perLayer[pair.first.name]! + after.perLayer[pair.second.name]!, o.macs);
      assert.equal(after.total - macs.total, o.macs - c.macs);
      if (c.kind === 'separable') {
        assert.equal(pair.first.className, 'DepthwiseConv2D');
        const first = pair.first.config as unknown as { depthMultiplier: number; strides: number[]; padding: string; activation: string; useBias: boolean };
        const orig = ir.layers.find((l) => l.name === c.layer)!.config as unknown as { strides: number[]; padding: string };
        assert.deepEqual([first.depthMultiplier, first.strides, first.padding, first.activation, first.useBias], [o.size, orig.strides, orig.padding, 'linear', false]);
        assert.deepEqual((pair.second.config as unknown as { kernelSize: number[] }).kernelSize, [1, 1]);
      } else {
        assert.deepEqual([pair.first.className, (pair.first.config as unknown as { units: number }).units, (pair.first.config as unknown as { useBias: boolean }).useBias], ['Dense', o.size, false]);
      }
      assert.deepEqual(pair.second.keras.activation, ir.layers.find((l) => l.name === c.layer)!.keras.activation);
      // tfjs builds it (every weight has the shape its layer declares).
      (await buildTfjsModel(replaced)).dispose();
    }
  }
});

test('layers where no pair pays, 1×1 and dilated convolutions are left alone, with the reason', async () => {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 1, kernelSize: 3, name: 'one_filter' }));
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 1, name: 'pointwise' }));
  m.add(tf.layers.conv2d({ filters: 8, kernelSize: 3, dilationRate: 2, name: 'dilated' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 1, name: 'single' }));
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const { candidates, ineligible } = survey(ir, inferShapes(ir), { convolutions: true, dense: true });
  assert.deepEqual(candidates, []);
  assert.deepEqual(ineligible.map((i) => i.layer), ['one_filter', 'pointwise', 'dilated', 'single']);
  assert.match(ineligible[0]!.reason, /does not pay/);
  assert.match(ineligible[1]!.reason, /1×1/);
  assert.match(ineligible[2]!.reason, /dilation/);
  assert.match(ineligible[3]!.reason, /does not pay/);
});

test('the m ladder stops where the pair stops paying; a 1-input-channel convolution pays only at small m', async () => {
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, name: 'first' }));
  m.add(tf.layers.conv2d({ filters: 128, kernelSize: 3, name: 'second' }));
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const { candidates } = survey(ir, inferShapes(ir), { convolutions: true, dense: true });
  // 1 channel, 32 filters: m·(9 + 32) < 9·32 ⇔ m ≤ 7.
  assert.deepEqual(candidates[0]!.options.map((o) => o.size), [1, 2, 4]);
  // 128 filters: m ≤ 8 (m·(kh·kw + F) < kh·kw·F keeps m below kh·kw, where the pair is exact).
  assert.deepEqual(candidates[1]!.options.map((o) => o.size), [1, 2, 4, 8]);
  // Asking for more than 1.5× fewer params and MACs: m = 4 on 32 filters is 1.76× (kept), m = 8 on 128 is 1.05×.
  const strict = survey(ir, inferShapes(ir), { convolutions: true, dense: true }, 1.5).candidates;
  assert.deepEqual(strict.map((c) => c.options.map((o) => o.size)), [[1, 2, 4], [1, 2, 4]]);
  for (const c of strict) for (const o of c.options) assert.ok(o.params * 1.5 < c.params && o.macs * 1.5 < c.macs);
  // 12 filters on one channel: m = 4 saves only 1.29× (108 → 84 weights), so only m = 1, 2 remain.
  const small = tf.sequential();
  small.add(tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 12, kernelSize: 3, name: 'small', useBias: false }));
  small.add(tf.layers.flatten({}));
  small.add(tf.layers.dense({ units: 64, name: 'wide' }));
  const smallIr = await irFromTfjsModel(small);
  small.dispose();
  const [conv, dense] = survey(smallIr, inferShapes(smallIr), { convolutions: true, dense: true }, 1.5).candidates;
  assert.deepEqual(conv!.options.map((o) => o.size), [1, 2]);
  // Dense 8,112 → 64: r·8,176·1.5 < 519,168 ⇔ r ≤ 42, so the ladder ends at 32.
  assert.equal(dense!.options[dense!.options.length - 1]!.size, 32);
  const none = survey(smallIr, inferShapes(smallIr), { convolutions: true, dense: true }, 100);
  assert.match(none.ineligible.find((i) => i.layer === 'small')!.reason, /does not pay: at m = 1 .* not 100× fewer \(minSaving\)/);
  // roundTo: ranks on the ladder in units of it (16, 32: 48 no longer pays), depthwise widths C·m multiples of it.
  const blocked = survey(smallIr, inferShapes(smallIr), { convolutions: true, dense: true }, 1.5, 16);
  assert.deepEqual(blocked.candidates.map((c) => [c.layer, c.options.map((o) => o.size)]), [['wide', [16, 32]]]);
  assert.match(blocked.ineligible.find((i) => i.layer === 'small')!.reason, /no depthwise width C·m \(C = 1\) that pays is a multiple of roundTo 16 \(paying: 1, 2\)/);
  const fives = survey(smallIr, inferShapes(smallIr), { convolutions: true, dense: true }, 1.5, 5).candidates.find((c) => c.layer === 'wide')!;
  assert.deepEqual(fives.options.map((o) => o.size), [5, 10, 15, 20, 30, 40]);
  const tooCoarse = survey(smallIr, inferShapes(smallIr), { convolutions: true, dense: true }, 1.5, 64);
  assert.match(tooCoarse.ineligible.find((i) => i.layer === 'wide')!.reason, /no rank that pays is a multiple of roundTo 64/);
});

test('a quantised input stays quantised: the new kernels take the original kernel\'s storage, so the model ships fewer bytes', async () => {
  const ir = await convDenseModel(6);
  const plan = new Map([['c2', 1], ['d1', 4]]);
  // int8 per channel: along each kernel's output channels (its last axis).
  const specs = { uint8: () => ({ dtype: 'uint8' }), float16: () => ({ dtype: 'float16' }), int8: (w: WeightIR) => ({ dtype: 'int8', axis: w.shape.length - 1, symmetric: true }) } as const;
  for (const [dtype, spec] of Object.entries(specs)) {
    const stored = { ...ir, layers: ir.layers.map((l) => ({ ...l, weights: l.weights.map((w) => (w.name === 'kernel' && l.name !== 'c1' ? quantizeWeight(w, spec(w) as StorageSpec) : w)) })) };
    const { ir: replaced, pairs } = applyPlan(stored, plan, new FactorCache(stored));
    for (const [name, pair] of pairs) {
      for (const w of [...pair.first.weights, ...pair.second.weights].filter((x) => x.name !== 'bias')) {
        assert.equal(w.storage?.dtype, dtype, `${name}/${w.name} is ${dtype}`);
        if (dtype === 'int8') assert.equal((w.storage as { axis?: number }).axis, w.name === 'depthwise_kernel' ? 2 : w.shape.length - 1);
      }
    }
    assert.ok(measureSizes(replaced).bytes < measureSizes(stored).bytes, `${dtype}: fewer bytes`);
  }
});

// The search (pipeline/separable/search.ts) is tested here too: one process start fewer for the suite.
const path = (n: number): { steps: PathStep[]; plans: Map<string, number>[] } => ({
  steps: Array.from({ length: n }, (_, i) => ({ layer: 'd', size: n - i, saved: i + 1, estimatedDrop: i / 100 })),
  plans: Array.from({ length: n }, (_, i) => new Map([['d', n - i]])),
});

test('the furthest passing plan, and the step after it as a near miss only when it missed the floor by little', async () => {
  // Accuracy falls along the path: 0.99, 0.98, …; floor 0.965 → steps 0–2 pass, step 3 (0.96) misses by 0.005.
  const { steps, plans } = path(6);
  const chosen = await furthestPassing(steps, plans, 0.965, async (p) => 0.99 - (6 - p.get('d')!) * 0.01);
  assert.equal(chosen, 2);
  assert.equal(steps[3]!.passed, false);
  assert.equal(nearMiss(steps, chosen, 0.965 - 0.01), 3, 'within reach');
  assert.equal(nearMiss(steps, chosen, 0.965 - 0.004), -1, 'out of reach');
  // Nothing passes: the first step can still be a near miss; a step the bisection never evaluated cannot.
  const none = path(3);
  assert.equal(await furthestPassing(none.steps, none.plans, 0.995, async () => 0.99), -1);
  assert.equal(nearMiss(none.steps, -1, 0.98), 0);
  const all = path(3);
  assert.equal(await furthestPassing(all.steps, all.plans, 0.5, async () => 0.99), 2);
  assert.equal(nearMiss(all.steps, 2, 0), -1, 'no step after the last');
});
