/** The latency target's bisection, with a fake latency model (no clock): the logic, not the machine. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { createPlanner, measureSizes } from '../../../pipeline/prune/allocate.ts';
import { macsForLatency, type LatencyRatio } from '../../../pipeline/prune/latency-target.ts';
import type { SearchSpace } from '../../../pipeline/prune/search.ts';
import { exampleCnn } from '../../fixtures/models.ts';

let ir: ModelIR;
before(async () => {
  await initEngine('wasm');
  ir = await irFromTfjsModel(exampleCnn(2));
});

function space(): SearchSpace {
  const analysis = analyzeChannels(ir);
  const planner = createPlanner(analysis, Float64Array.from({ length: analysis.classCount }, (_, k) => k), 1, 1);
  return { ir, planner, free: planner.groups, fixed: new Map(), maxRatio: 0.9, metric: 'macs', inputSizes: measureSizes(ir), memo: new Map() };
}

/** Latency ∝ a fixed overhead plus MACs: what a small model on a real engine looks like. */
const fake = (overhead: number): LatencyRatio => async (candidate) => (overhead + countMacs(candidate).total / countMacs(ir).total) / (overhead + 1);

test('bisects the MACs goal for the least pruning that meets the latency target', async () => {
  const s = space();
  const goal = await macsForLatency(s, undefined, 0.6, fake(0.25));
  // (0.25 + m) / 1.25 ≤ 0.6 ⇔ the plan's MACs m ≤ 0.5; a goal allocates the least pruning with MACs ≤ goal, so
  // the goal found lies at or a little above 0.5 (channels are discrete), its own probe meets the target, and it
  // is the largest goal probed that does.
  assert.ok(goal.macsFraction! > 0.45 && goal.macsFraction! < 0.55, JSON.stringify(goal));
  const own = goal.probes.find((p) => p.macsFraction === goal.macsFraction)!;
  assert.ok(own.latencyRatio <= 0.6);
  assert.ok(goal.probes.filter((p) => p.latencyRatio <= 0.6).every((p) => p.macsFraction <= goal.macsFraction!));
  assert.ok(goal.probes.some((p) => p.latencyRatio > 0.6), 'the bracket is bounded above by a miss');
});

test('a target no allocation can meet gives no goal (the stage then reports it out of reach)', async () => {
  const goal = await macsForLatency(space(), undefined, 0.1, fake(1)); // half the latency is fixed overhead
  assert.equal(goal.macsFraction, undefined);
  assert.ok(goal.probes.every((p) => p.latencyRatio > 0.1));
});
