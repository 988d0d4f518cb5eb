/** data.validation: a separate held-out set (IDX folder or arrays) instead of one carved from train. */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { loadData } from '../../../pipeline/data/load-data.ts';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { encodeIdx, syntheticIdxSet, writeIdxFolder, type IdxSetSpec } from '../../fixtures/idx.ts';

const root = mkdtempSync(join(tmpdir(), 'slimnet-validation-'));
after(() => rmSync(root, { recursive: true, force: true }));
const idxDir = join(root, 'idx');
writeIdxFolder(idxDir, { train: syntheticIdxSet(40, 4, 4, 4, 1), test: syntheticIdxSet(12, 4, 4, 4, 2) });

/** Writes one images/labels pair named `<prefix>-images-idx3-ubyte` / `<prefix>-labels-idx1-ubyte` into `dir`. */
function writePair(dir: string, prefix: string, set: IdxSetSpec, gzip = false): void {
  mkdirSync(dir, { recursive: true });
  const name = (kind: string) => join(dir, `${prefix}${prefix ? '-' : ''}${kind}${gzip ? '.gz' : ''}`);
  const write = (file: string, bytes: Uint8Array) => writeFileSync(file, gzip ? gzipSync(bytes) : bytes);
  write(name('images-idx3-ubyte'), encodeIdx('ubyte', [set.count, set.rows, set.cols], set.images));
  write(name('labels-idx1-ubyte'), encodeIdx('ubyte', [set.count], set.labels));
}

const valSet = syntheticIdxSet(16, 4, 4, 4, 9);
const valDir = join(root, 'val');
writePair(valDir, 'val', valSet, true);
const opts = { validationFraction: 0.25, seed: 3, inputShape: [4, 4, 1] as (number | null)[], outputClasses: 4 };

test('an IDX validation folder is the validation split: nothing is carved from train', async () => {
  const splits = await loadData({ source: 'idx', dir: idxDir, validation: { source: 'idx', dir: valDir } }, opts);
  assert.equal(splits.train.count, 40, 'all of train stays train');
  assert.equal(splits.validation.count, 16);
  assert.deepEqual([...splits.validation.y], [...valSet.labels]);
  assert.equal(splits.validation.x[0], Math.fround(valSet.images[0]! / 255), 'scaled like the training images');
  assert.deepEqual(splits.validationSource, { kind: 'separate', source: 'idx', dir: valDir });
  const carved = await loadData({ source: 'idx', dir: idxDir }, opts);
  assert.deepEqual(carved.validationSource, { kind: 'carved', fraction: 0.25, seed: 3 });
  assert.notEqual(carved.fingerprint, splits.fingerprint);
  // The separate set does not depend on the data seed; limit.validation samples it.
  const otherSeed = await loadData({ source: 'idx', dir: idxDir, validation: { source: 'idx', dir: valDir } }, { ...opts, seed: 4 });
  assert.equal(otherSeed.fingerprint, splits.fingerprint);
  const limited = await loadData({ source: 'idx', dir: idxDir, validation: { source: 'idx', dir: valDir } }, { ...opts, limit: { validation: 5 } });
  assert.equal(limited.validation.count, 5);
});

test('a validation folder must hold exactly one images/labels pair stored like the training images', async () => {
  const reject = (dir: string, where: string, message: RegExp) =>
    assert.rejects(loadData({ source: 'idx', dir: idxDir, validation: { source: 'idx', dir } }, opts), (e: unknown) => {
      assert.ok(e instanceof SlimnetError, String(e));
      assert.equal(e.where, where);
      assert.match(e.message, message);
      return true;
    });
  await reject(join(root, 'nowhere'), join(root, 'nowhere'), /does not exist/);
  await reject(idxDir, idxDir, /holds 2 IDX sets \(t10k, train\)/);
  const empty = join(root, 'empty');
  mkdirSync(empty);
  await reject(empty, empty, /holds no IDX images\/labels pair/);
  const floats = join(root, 'floats');
  mkdirSync(floats);
  writeFileSync(join(floats, 'images-idx3-ubyte'), encodeIdx('float', [2, 4, 4], new Float32Array(32)));
  writeFileSync(join(floats, 'labels-idx1-ubyte'), encodeIdx('ubyte', [2], [0, 1]));
  await reject(floats, join(floats, 'images-idx3-ubyte'), /validation images are float values but the training images are uint8/);
  const badLabels = join(root, 'bad-labels');
  writePair(badLabels, '', { ...valSet, labels: valSet.labels.map((v, i) => (i === 3 ? 7 : v)) });
  await reject(badLabels, join(badLabels, 'labels-idx1-ubyte'), /label 7 \(sample 3\) is outside the model's 4 output classes/);
});

test('arrays: data.validation.load() or a validation set returned by data.load()', async () => {
  const x = (n: number) => Float32Array.from({ length: n * 4 }, (_, i) => (i % 7) / 7);
  const y = (n: number) => Int32Array.from({ length: n }, (_, i) => i % 2);
  const load = () => ({ train: { x: x(20), y: y(20) }, test: { x: x(6), y: y(6) }, sampleShape: [4] });
  const viaConfig = await loadData({ source: 'arrays', load, validation: { source: 'arrays', load: () => ({ x: x(8), y: y(8) }) } }, { ...opts, inputShape: [4], outputClasses: 2 });
  assert.equal(viaConfig.train.count, 20);
  assert.equal(viaConfig.validation.count, 8);
  assert.deepEqual(viaConfig.validationSource, { kind: 'separate', source: 'arrays' });
  const inline = await loadData({ source: 'arrays', load: () => ({ ...load(), validation: { x: x(6), y: y(6) } }) }, { ...opts, inputShape: [4], outputClasses: 2 });
  assert.equal(inline.train.count, 20);
  assert.equal(inline.validation.count, 6);
  await assert.rejects(loadData({ source: 'arrays', load, validation: { source: 'arrays', load: () => ({ x: x(3), y: y(2) }) } }, { ...opts, inputShape: [4] }),
    (e: unknown) => e instanceof SlimnetError && e.where === 'data.validation.load()' && /validation\.x has 12 values/.test(e.message));
});
