/** checkParity's numbers and assertParity's verdict on hand-made prediction arrays. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSlimnetError } from '../../pipeline/errors.ts';
import { assertParity, checkParity } from '../../pipeline/parity.ts';

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

test('assertParity passes within budget and throws EXPORT_PARITY with the numbers otherwise', () => {
  assertParity({ samples: 1000, top1Agreement: 0.999, maxAbsDiff: 1e-4 }, 'model.onnx');
  assert.throws(
    () => assertParity({ samples: 1000, top1Agreement: 0.998, maxAbsDiff: 1e-6 }, 'out/model.onnx'),
    (e: unknown) => isSlimnetError(e) && e.code === 'EXPORT_PARITY' && e.where === 'out/model.onnx' && /99\.80%/.test(e.message),
  );
  assert.throws(
    () => assertParity({ samples: 10, top1Agreement: 1, maxAbsDiff: 2e-3 }, 'model.onnx'),
    (e: unknown) => isSlimnetError(e) && /2\.00e-3/.test(e.message),
  );
  assertParity({ samples: 10, top1Agreement: 0.9, maxAbsDiff: 0.01 }, 'model.onnx', { minTop1Agreement: 0.9, maxAbsDiff: 0.01 });
});
