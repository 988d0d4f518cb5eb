import assert from 'node:assert/strict';
import { test } from 'node:test';
import { furthestPassing, nearMiss, type PathStep } from '../../../pipeline/separable/search.ts';

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
