import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { loadData, shapeForModel, type DataSpec } from '../../../pipeline/data/load-data.ts';
import { syntheticIdxSet, writeIdxFolder } from '../../fixtures/idx.ts';

const root = mkdtempSync(join(tmpdir(), 'slimnet-load-'));
after(() => rmSync(root, { recursive: true, force: true }));
const idxDir = join(root, 'idx');
writeIdxFolder(idxDir, { train: syntheticIdxSet(40, 4, 4, 4, 1), test: syntheticIdxSet(12, 4, 4, 4, 2), gzip: true });

const base = { validationFraction: 0.25, seed: 3 };

function isDataInvalid(where: string, message: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof SlimnetError, `expected SlimnetError, got ${e}`);
    assert.equal(e.code, 'DATA_INVALID');
    assert.equal(e.where, where);
    assert.match(e.message, message);
    return true;
  };
}

test('shapeForModel reshapes when element counts agree and infers one open dimension', () => {
  assert.deepEqual(shapeForModel([28, 28], [28, 28, 1], 'w'), [28, 28, 1]);
  assert.deepEqual(shapeForModel([784], [28, 28, 1], 'w'), [28, 28, 1]);
  assert.deepEqual(shapeForModel([28, 28, 1], [784], 'w'), [784]);
  assert.deepEqual(shapeForModel([28, 28, 1], [null, 28, 1], 'w'), [28, 28, 1]);
  assert.deepEqual(shapeForModel([4, 6, 2], [null, null, 2], 'w'), [4, 6, 2]);
  assert.throws(() => shapeForModel([28, 28, 1], [32, 32, 1], 'src'), isDataInvalid('src', /model expects input \[32, 32, 1\] but data samples are \[28, 28, 1\]/));
  assert.throws(() => shapeForModel([5, 5], [null, 3], 'src'), isDataInvalid('src', /\[null, 3\]/));
  assert.throws(() => shapeForModel([4, 6, 2], [null, null, 3], 'src'), isDataInvalid('src', /model expects input/));
});

test('idx source: shaped for the model, split, described', async () => {
  const splits = await loadData({ source: 'idx', dir: idxDir }, { ...base, inputShape: [16] });
  assert.equal(splits.train.count + splits.validation.count, 40);
  assert.equal(splits.validation.count, 10);
  assert.equal(splits.test.count, 12);
  for (const s of [splits.train, splits.validation, splits.test]) assert.deepEqual(s.sampleShape, [16]);
  assert.equal(splits.describe.source, 'idx');
  assert.deepEqual(splits.describe.sampleShape, [4, 4, 1]);
  assert.deepEqual(splits.describe.shapedAs, [16]);
  assert.equal(splits.describe.counts, undefined, 'split sizes are the runner\'s to report');
  const again = await loadData({ source: 'idx', dir: idxDir }, { ...base, inputShape: [16] });
  assert.equal(again.fingerprint, splits.fingerprint);
  const otherSeed = await loadData({ source: 'idx', dir: idxDir }, { ...base, seed: 4, inputShape: [16] });
  assert.notEqual(otherSeed.fingerprint, splits.fingerprint);
});

test('a model input the data cannot fill names the source', async () => {
  await assert.rejects(loadData({ source: 'idx', dir: idxDir }, { ...base, inputShape: [28, 28, 1] }),
    isDataInvalid(resolve(idxDir), /model expects input \[28, 28, 1\] but data samples are \[4, 4, 1\]/));
});

test('limit keeps a seeded random selection, before validation is carved', async () => {
  const opts = { ...base, inputShape: [4, 4, 1], limit: { train: 20, test: 5 } };
  const a = await loadData({ source: 'idx', dir: idxDir }, opts);
  const b = await loadData({ source: 'idx', dir: idxDir }, opts);
  assert.equal(a.train.count + a.validation.count, 20);
  assert.equal(a.test.count, 5);
  assert.equal(a.fingerprint, b.fingerprint);
  assert.deepEqual(a.describe.limit, { train: 20, test: 5 });
  const full = await loadData({ source: 'idx', dir: idxDir }, { ...base, inputShape: [4, 4, 1] });
  // The test selection is a subset of the full test set, not simply its first rows.
  const rows = (x: Float32Array, n: number) => Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * 16, (i + 1) * 16)).join());
  const fullRows = new Set(rows(full.test.x, 12));
  const picked = rows(a.test.x, 5);
  assert.ok(picked.every((r) => fullRows.has(r)));
  assert.notDeepEqual(picked, rows(full.test.x, 5));
  await assert.rejects(loadData({ source: 'idx', dir: idxDir }, { ...opts, limit: { train: 0 } }),
    (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && e.where === 'evaluation.limit.train');
});

test('arrays source: async load, validation, and errors from load() itself', async () => {
  const x = Array.from({ length: 20 * 6 }, (_, i) => (i % 7) / 7);
  const y = Array.from({ length: 20 }, (_, i) => i % 2);
  const spec: DataSpec = { source: 'arrays', load: async () => ({ train: { x, y }, test: { x: x.slice(0, 12), y: y.slice(0, 2) }, sampleShape: [6] }) };
  const splits = await loadData(spec, { ...base, inputShape: [null, 3] });
  assert.deepEqual(splits.train.sampleShape, [2, 3]);
  assert.equal(splits.validation.count, 5);
  assert.equal(splits.describe.source, 'arrays');
  await assert.rejects(loadData({ source: 'arrays', load: () => ({ train: { x, y: y.slice(1) }, test: { x, y }, sampleShape: [6] }) }, { ...base, inputShape: [6] }),
    isDataInvalid('data.load()', /train\.x has 120 values but train\.y has 19 labels/));
  await assert.rejects(loadData({ source: 'arrays', load: () => { throw new Error('no such file'); } }, { ...base, inputShape: [6] }),
    isDataInvalid('data.load()', /threw: no such file/));
});

test('mnist-package source shapes to the model input', async () => {
  const splits = await loadData({ source: 'mnist-package' }, { validationFraction: 0.1, seed: 1, inputShape: [784], limit: { train: 500, test: 100 } });
  assert.deepEqual(splits.train.sampleShape, [784]);
  assert.equal(splits.validation.count, 50);
  assert.equal(splits.test.count, 100);
  assert.equal(splits.train.numClasses, 10);
});

test('an unknown source is a config error', async () => {
  await assert.rejects(loadData({ source: 'csv' } as unknown as DataSpec, { ...base, inputShape: [1] }),
    (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && e.where === 'data.source');
});
