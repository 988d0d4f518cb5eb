import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { createPlanner, measureSizes, planFromRatios, sizeOfPlan } from '../../../pipeline/prune/allocate.ts';
import { scoreClasses } from '../../../pipeline/prune/criteria.ts';
import {
  allocationForFraction, explorer, judge, newQueue, ratiosAtTolerance, searchForTarget, searchSmallestPassing, sensitivityAnalysis, smallestPassing,
  type ExploredPoint, type SearchSpace,
} from '../../../pipeline/prune/search.ts';
import { removeChannels } from '../../../pipeline/prune/remove-channels.ts';
import { countParams } from '../../../pipeline/ir.ts';
import { sequentialCnn } from '../../fixtures/models.ts';

let ir: ModelIR;
before(async () => {
  await initEngine('wasm');
  ir = await irFromTfjsModel(sequentialCnn());
});

async function makeSpace(): Promise<SearchSpace> {
  const analysis = analyzeChannels(ir);
  const scores = await scoreClasses('l1', { ir, analysis, data: { x: new Float32Array(0), y: new Int32Array(0), count: 0, sampleShape: [8, 8, 1], numClasses: 3 }, batchSize: 8 });
  const planner = createPlanner(analysis, scores, 1);
  return { ir, planner, free: planner.groups, fixed: new Map(), maxRatio: 0.9, metric: 'params', inputSizes: measureSizes(ir), memo: new Map() };
}

/** A fake validation: accuracy falls with the share of parameters removed (no noise unless asked). */
function fakeEvaluate(space: SearchSpace, noise: (params: number) => number = () => 0) {
  return async (removed: Set<number>) => {
    const params = countParams(removeChannels(space.ir, space.planner.analysis, removed));
    return { accuracy: 0.99 - 0.2 * (1 - params / space.inputSizes.params) + noise(params), loss: 0.1 };
  };
}

const point = (fraction: number, accuracy: number): ExploredPoint => ({
  fraction, accuracy, loss: 0, smoothedAccuracy: accuracy, passed: false, sizes: { params: 0, macs: 0, bytes: 0 }, strategy: 'sensitivity', ratios: {},
});

test('judge: a smaller model that beats a larger one is pooled with it (isotonic fit), so a lucky point cannot win alone', () => {
  const points = [point(0.5, 0.98), point(0.3, 0.97), point(0.2, 0.975), point(0.1, 0.95)];
  judge(points, 0.972);
  assert.deepEqual(points.map((p) => Math.round(p.smoothedAccuracy * 1e4) / 1e4), [0.98, 0.9725, 0.9725, 0.95]);
  assert.equal(smallestPassing(points)!.fraction, 0.2);
  judge(points, 0.973);
  assert.equal(smallestPassing(points)!.fraction, 0.5); // 0.2 measured 0.975 ≥ 0.973, but its pool does not
});

test('ratiosAtTolerance: the largest ratio whose monotone, interpolated drop stays within tau', async () => {
  const space = await makeSpace();
  const g = space.free[0]!;
  const sens = [{ group: g.name, groupId: g.id, points: [{ ratio: 0, accuracy: 0.98 }, { ratio: 0.5, accuracy: 0.985 }, { ratio: 0.75, accuracy: 0.96 }, { ratio: 0.9, accuracy: 0.9 }] }];
  const at = (tau: number) => ratiosAtTolerance({ ...space, free: [g] }, sens, tau).get(g.id)!;
  assert.equal(at(0), 0.5);
  assert.ok(Math.abs(at(0.01) - 0.625) < 1e-9);
  assert.equal(at(1), 0.9);
  assert.equal(ratiosAtTolerance({ ...space, free: [g], maxRatio: 0.7 }, sens, 1).get(g.id), 0.7);
});

test('planFromRatios: least important first, floor(ratio × channels), minChannels respected', async () => {
  const space = await makeSpace();
  const conv = space.planner.groups.find((g) => g.name === 'conv')!;
  const removed = planFromRatios(space.planner, new Map([[conv.id, 0.5]]));
  assert.deepEqual([...removed], space.planner.order.get(conv.id)!.slice(0, 2));
  const strict = createPlanner(space.planner.analysis, new Float64Array(space.planner.analysis.classCount), 3);
  assert.equal(planFromRatios(strict, new Map([[conv.id, 0.9]])).size, 1); // 4 filters, keep ≥ 3
});

test('allocationForFraction: the least pruning that reaches the size goal, uniform or sensitivity-led', async () => {
  const space = await makeSpace();
  const removedAt = (r: Map<number, number>) => planFromRatios(space.planner, r);
  const uniform = allocationForFraction(space, undefined, 0.5)!;
  const size = (r: Map<number, number>) => sizeOfPlan(ir, space.planner.analysis, removedAt(r), space.memo).params;
  assert.ok(size(uniform) <= 0.5 * space.inputSizes.params);
  const lessRatio = new Map([...uniform].map(([k, v]) => [k, Math.max(0, v - 0.13)]));
  assert.ok(size(lessRatio) > 0.5 * space.inputSizes.params);
  assert.equal(allocationForFraction(space, undefined, 0.001), undefined); // out of reach
});

test('sensitivity + search: the smallest passing allocation, identical whatever the concurrency', async () => {
  const runs: ExploredPoint[][] = [];
  for (const concurrency of [1, 4]) {
    const space = await makeSpace();
    const queue = newQueue(concurrency);
    const evaluate = fakeEvaluate(space);
    const sens = await sensitivityAnalysis(space, [0.25, 0.5, 0.75], 0.99, evaluate, queue);
    assert.deepEqual(sens.map((s) => s.points.length), [4, 4]);
    const explored = await searchSmallestPassing(space, sens, explorer(space, evaluate, queue), 0.99 - 0.2 * 0.6, 2);
    runs.push(explored);
    const best = smallestPassing(explored)!;
    // accuracy = 0.99 − 0.2 × (share removed): passing means keeping ≥ 40% of the parameters.
    assert.ok(best.fraction >= 0.4 - 1e-9);
    assert.ok(explored.every((p) => p.passed === p.fraction >= 0.4 - 1e-9));
    assert.ok(explored.some((p) => !p.passed), 'the search also explores past the floor');
    // The ladder stops after a wave (×0.35, ×0.25) where every rung misses the floor: no ×0.18 or smaller.
    assert.ok(explored.every((p) => p.fraction > 0.18), `explored ${explored.map((p) => p.fraction.toFixed(3)).join(', ')}`);
  }
  assert.deepEqual(runs[0], runs[1]);
});

test('searchForTarget: every candidate meets the target; the report marks which pass the floor', async () => {
  const space = await makeSpace();
  const queue = newQueue(2);
  const evaluate = fakeEvaluate(space);
  const sens = await sensitivityAnalysis(space, [0.25, 0.5, 0.75], 0.99, evaluate, queue);
  const explored = await searchForTarget(space, sens, 0.3, explorer(space, evaluate, queue), 0.5);
  assert.ok(explored.length >= 1);
  for (const p of explored) {
    assert.ok(p.fraction <= 0.3);
    assert.equal(p.passed, true);
  }
});
