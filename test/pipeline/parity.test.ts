/** checkParity's numbers on hand-made prediction arrays (the export stage's verdicts: test/stages/export.test.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkParity } from '../../pipeline/parity.ts';

const reference = Float32Array.from([0.1, 0.7, 0.2, 0.5, 0.3, 0.2, 0.3, 0.3, 0.4]);

test('identical predictions agree fully with zero difference; accuracy counts against labels', () => {
  const labels = Int32Array.from([1, 2, 2]);
  const r = checkParity({ reference, candidate: reference.slice(), samples: 3, labels });
  assert.deepEqual(r, { samples: 3, top1Agreement: 1, maxAbsDiff: 0, accuracy: 2 / 3, referenceAccuracy: 2 / 3 });
});

test('a flipped arg-max lowers agreement; the largest |difference| is reported', () => {
  const candidate = reference.slice();
  candidate[3] = 0.1; // sample 1: arg-max moves from class 0 to class 1
  candidate[8] = 0.45;
  const r = checkParity({ reference, candidate, samples: 3 });
  assert.equal(r.top1Agreement, 2 / 3);
  assert.ok(Math.abs(r.maxAbsDiff - 0.4) < 1e-6);
  assert.equal(r.accuracy, undefined);
});

test('NaN on one side is an infinite difference; sizes that do not match are a bug', () => {
  const candidate = reference.slice();
  candidate[4] = Number.NaN;
  assert.equal(checkParity({ reference, candidate, samples: 3 }).maxAbsDiff, Infinity);
  assert.throws(() => checkParity({ reference, candidate: reference.subarray(3), samples: 3 }), /sizes differ/);
  assert.throws(() => checkParity({ reference, candidate: reference, samples: 4 }), /rows/);
});
