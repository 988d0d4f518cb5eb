/**
 * The latency module's logic with a fake clock: interleaving order, warm-up, statistics and speed-up arithmetic.
 * No timing is asserted (timings belong in `npm run bench`); one test runs real onnxruntime sessions and checks
 * only the shape of the result.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { compareLatency, compareOnnxLatency, interleave, quantile, roundsForWork, spread, type LatencyRunner } from '../../../pipeline/measure/latency.ts';
import { sequentialCnn } from '../../fixtures/models.ts';
import { randomInputSet } from '../../fixtures/sets.ts';

before(async () => {
  await initEngine('wasm');
});

/** Runners whose run() advances a fake clock by their cost and logs who ran. */
function fake(costs: Record<string, number[]>) {
  let clock = 0;
  const log: string[] = [];
  const calls: Record<string, number> = {};
  const runners: LatencyRunner[] = Object.keys(costs).map((name) => ({
    name,
    run: async () => {
      const k = (calls[name] = (calls[name] ?? 0) + 1) - 1;
      log.push(name);
      clock += costs[name]![k % costs[name]!.length]!;
    },
  }));
  return { runners, log, now: () => clock };
}

test('runs interleave A B, then B A, after interleaved warm-up runs', async () => {
  const f = fake({ A: [1], B: [1] });
  await interleave(f.runners, { warmup: 1, rounds: 4, now: f.now });
  assert.deepEqual(f.log.join(''), 'AB' + 'AB' + 'BA' + 'AB' + 'BA');
});

test('each timed run is attributed to its model, warm-up excluded', async () => {
  const f = fake({ A: [100, 10, 20, 30], B: [100, 1, 2, 3] });
  const times = await interleave(f.runners, { warmup: 1, rounds: 3, now: f.now });
  assert.deepEqual(times, [[10, 20, 30], [1, 2, 3]]);
});

test('quantiles interpolate; spread reports median, quartiles and range', () => {
  assert.equal(quantile([1, 2, 3, 4], 0.5), 2.5);
  assert.equal(quantile([5], 0.25), 5);
  assert.deepEqual(spread([4, 1, 3, 2, 5]), { median: 3, p25: 2, p75: 4, min: 1, max: 5 });
});

test('speed-up against the first runner: ratio of medians and median of per-round ratios', async () => {
  // B is twice as fast in every round, while the "machine" slows down over the rounds.
  const f = fake({ A: [10, 20, 40, 80, 160], B: [5, 10, 20, 40, 80] });
  const c = await compareLatency(f.runners, { warmup: 0, rounds: 5, now: f.now });
  assert.deepEqual(c.speedup, [1, 2]);
  assert.equal(c.pairedSpeedup[1]!.median, 2);
  assert.equal(c.pairedSpeedup[1]!.min, 2);
  assert.equal(c.pairedSpeedup[0]!.median, 1);
  assert.equal(c.stats[0]!.runs, 5);
});

test('rounds follow the work of one run, within bounds', () => {
  assert.equal(roundsForWork(1e6, 1), 30);
  assert.equal(roundsForWork(3e8, 32), 5);
  assert.equal(roundsForWork(3e8, 1, 2e10, 5, 30), 30);
  assert.equal(roundsForWork(1e9, 1, 2e10, 5, 30), 20);
});

test('onnxruntime comparison of a model against itself: one entry per batch size, per model, with its runs, by both methods', async () => {
  const m = sequentialCnn(3);
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const set = randomInputSet([8, 8, 1], 4, 1);
  const r = await compareOnnxLatency([{ name: 'a', ir }, { name: 'b', ir }], set, { batchSizes: [1, 6], rounds: () => 3, publicApi: true });
  assert.deepEqual(r.map((b) => b.batchSize), [1, 6]);
  for (const b of r) {
    assert.deepEqual(b.models.map((m) => m.name), ['a', 'b']);
    for (const m of b.models) assert.ok(m.stats.runs === 3 && m.stats.median > 0 && m.stats.min <= m.stats.median);
    assert.equal(b.speedup[0], 1);
    assert.ok(Number.isFinite(b.speedup[1]));
    assert.equal(b.method, 'ort-run');
    assert.deepEqual(b.publicApi!.models.map((m) => [m.name, m.stats.runs]), [['a', 3], ['b', 3]]);
  }
});
