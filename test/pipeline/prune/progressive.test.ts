import assert from 'node:assert/strict';
import { test } from 'node:test';
import { descentGoals, nearMiss, type ProgressiveStep } from '../../../pipeline/prune/progressive.ts';

const step = (fraction: number, accuracy: number, floor = 0.9): { step: ProgressiveStep; id: string } => ({
  id: `${fraction}`,
  step: { goal: fraction, fraction, sizes: { params: 0, macs: 0, bytes: 0 }, afterReconstruction: accuracy, accuracy, passed: accuracy >= floor },
});

test('nearMiss: the smallest failed step below the last passing size that is within reach of the floor', () => {
  const failed = [step(0.46, 0.885), step(0.5, 0.895), step(0.4, 0.85)];
  // Reach floor 0.88: 0.4 is too far below; 0.46 is the smallest within reach.
  assert.equal(nearMiss(failed, 0.55, 0.88)?.id, '0.46');
  // A tighter reach leaves only 0.5.
  assert.equal(nearMiss(failed, 0.55, 0.89)?.id, '0.5');
  // Nothing below the last passing size, or nothing within reach: none.
  assert.equal(nearMiss(failed, 0.45, 0.8)?.id, '0.4');
  assert.equal(nearMiss(failed, 0.4, 0.8), undefined);
  assert.equal(nearMiss(failed, 0.55, 0.9), undefined);
  assert.equal(nearMiss([], 1, 0), undefined);
  // Two steps that reached the same size: the more accurate one.
  assert.equal(nearMiss([{ ...step(0.41, 0.88), id: 'first' }, { ...step(0.41, 0.89), id: 'second' }], 0.5, 0.8)?.id, 'second');
});

test('descentGoals: geometric steps from the start down to the target, none when already there', () => {
  const goals = descentGoals(1, { target: 0.25, steps: 2 });
  assert.deepEqual(goals.map((g) => Number(g.toFixed(6))), [0.5, 0.25]);
  assert.deepEqual(descentGoals(0.5, { target: 0.6, steps: 3 }), []);
});
