import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { SlimnetError, type ErrorCode } from '../../../pipeline/errors.ts';
import { loadIdxFolder, readIdxFile } from '../../../pipeline/data/idx.ts';
import { encodeIdx, syntheticIdxSet, writeIdxFolder, type IdxTypeName } from '../../fixtures/idx.ts';

const root = mkdtempSync(join(tmpdir(), 'slimnet-idx-'));
after(() => rmSync(root, { recursive: true, force: true }));
let dirCount = 0;
const freshDir = () => join(root, `d${dirCount++}`);

async function expectError(fn: () => Promise<unknown>, code: ErrorCode, where: string, message: RegExp): Promise<void> {
  await assert.rejects(fn, (e: unknown) => {
    assert.ok(e instanceof SlimnetError, `expected SlimnetError, got ${e}`);
    assert.equal(e.code, code);
    assert.equal(e.where, where);
    assert.match(e.message, message);
    return true;
  });
}

function writeFile(name: string, bytes: Uint8Array): string {
  const path = join(root, name);
  writeFileSync(path, bytes);
  return path;
}

const cases: Array<{ type: IdxTypeName; values: number[]; ctor: Function }> = [
  { type: 'ubyte', values: [0, 1, 127, 128, 255, 42], ctor: Uint8Array },
  { type: 'byte', values: [-128, -1, 0, 1, 127, 5], ctor: Int8Array },
  { type: 'short', values: [-32768, -2, 0, 258, 32767, 1000], ctor: Int16Array },
  { type: 'int', values: [-(2 ** 31), -70000, 0, 70000, 2 ** 31 - 1, 16909060], ctor: Int32Array },
  { type: 'float', values: [-1.5, 0, 0.25, Math.fround(3.14), 2 ** 100, -7], ctor: Float32Array },
  { type: 'double', values: [-1.5, 0, 0.1, Math.PI, 1e300, -7], ctor: Float64Array },
];

for (const { type, values, ctor } of cases) {
  for (const gz of [false, true]) {
    test(`reads ${type} ${gz ? 'gzipped' : 'raw'} IDX with big-endian dims and values`, async () => {
      const raw = encodeIdx(type, [2, 3], values);
      const path = writeFile(`t-${type}${gz ? '.gz' : ''}`, gz ? gzipSync(raw) : raw);
      const arr = await readIdxFile(path);
      assert.deepEqual(arr.dims, [2, 3]);
      assert.equal(arr.type, type);
      assert.ok(arr.data instanceof ctor);
      assert.deepEqual(Array.from(arr.data), values);
    });
  }
}

test('gzip is detected by its magic bytes, not the file name', async () => {
  const path = writeFile('no-gz-suffix', gzipSync(encodeIdx('ubyte', [3], [1, 2, 3])));
  assert.deepEqual(Array.from((await readIdxFile(path)).data), [1, 2, 3]);
});

test('malformed IDX files fail with DATA_INVALID naming the file and the fault', async () => {
  const good = encodeIdx('ubyte', [2, 2], [1, 2, 3, 4]);
  const bad = async (name: string, bytes: Uint8Array, message: RegExp) => {
    const path = writeFile(name, bytes);
    await expectError(() => readIdxFile(path), 'DATA_INVALID', path, message);
  };
  await bad('magic', Uint8Array.from([0x50, 0x4b, 8, 1, 0, 0, 0, 1, 9]), /bad magic number.*0x50 0x4b/);
  await bad('type', Uint8Array.from([0, 0, 0x0a, 1, 0, 0, 0, 1, 9]), /unknown IDX type code 0x0a/);
  await bad('short-header', Uint8Array.from([0, 0, 8]), /too short/);
  await bad('dims-cut', good.subarray(0, 9), /truncated header/);
  await bad('data-cut', good.subarray(0, good.length - 1), /truncated data.*need 4 bytes but only 3/);
  await bad('data-cut.gz', gzipSync(good.subarray(0, good.length - 2)), /truncated data/);
  await bad('trailing', Uint8Array.from([...good, 7, 7]), /2 unexpected trailing bytes/);
  await bad('corrupt.gz', Uint8Array.from([0x1f, 0x8b, 8, 0, 1, 2, 3]), /corrupt gzip/);
  await bad('zero-rank', Uint8Array.from([0, 0, 8, 0]), /0 dimensions/);
});

test('a missing file is DATA_NOT_FOUND naming it', async () => {
  const path = join(root, 'nope');
  await expectError(() => readIdxFile(path), 'DATA_NOT_FOUND', path, /cannot read/);
});

const train = syntheticIdxSet(12, 4, 3, 3, 1);
const testSet = syntheticIdxSet(6, 4, 3, 3, 2);

for (const variant of [{ gzip: false, dotted: false }, { gzip: true, dotted: false }, { gzip: false, dotted: true }, { gzip: true, dotted: true }]) {
  test(`loads an IDX folder (gzip=${variant.gzip}, dotted names=${variant.dotted})`, async () => {
    const dir = freshDir();
    writeIdxFolder(dir, { train, test: testSet, ...variant });
    const sets = await loadIdxFolder(dir);
    assert.equal(sets.train.count, 12);
    assert.equal(sets.test.count, 6);
    assert.deepEqual(sets.train.sampleShape, [4, 3, 1]);
    assert.equal(sets.train.numClasses, 3);
    assert.deepEqual(Array.from(sets.train.y), Array.from(train.labels));
    assert.ok(sets.train.y instanceof Int32Array);
    assert.equal(sets.train.x.length, 12 * 12);
    for (let i = 0; i < sets.train.x.length; i++) assert.equal(sets.train.x[i], Math.fround(train.images[i]! / 255));
    assert.deepEqual(Array.from(sets.test.x), Array.from(testSet.images, (v) => Math.fround(v / 255)));
  });
}

test('numClasses is the largest label across train and test, plus one', async () => {
  const dir = freshDir();
  writeIdxFolder(dir, { train, test: { ...testSet, labels: Uint8Array.from(testSet.labels, (v, i) => (i === 0 ? 7 : v)) } });
  const sets = await loadIdxFolder(dir);
  assert.equal(sets.train.numClasses, 8);
  assert.equal(sets.test.numClasses, 8);
});

test('idx4 images become [rows, cols, channels]; float labels that are integers are accepted', async () => {
  const dir = freshDir();
  const paths = writeIdxFolder(dir, { train, test: testSet });
  writeFileSync(paths.trainImages, encodeIdx('ubyte', [2, 2, 2, 3], Array.from({ length: 24 }, (_, i) => i * 10)));
  writeFileSync(paths.trainLabels, encodeIdx('float', [2], [0, 2]));
  writeFileSync(paths.testImages, encodeIdx('float', [1, 2, 2, 3], Array.from({ length: 12 }, () => 0.5)));
  writeFileSync(paths.testLabels, encodeIdx('int', [1], [1]));
  const sets = await loadIdxFolder(dir);
  assert.deepEqual(sets.train.sampleShape, [2, 2, 3]);
  assert.deepEqual(Array.from(sets.train.y), [0, 2]);
  assert.equal(sets.train.x[23], Math.fround(230 / 255));
  assert.deepEqual(Array.from(sets.test.x), new Array(12).fill(0.5));
});

test('missing files are listed in one DATA_NOT_FOUND for the folder', async () => {
  const dir = freshDir();
  const paths = writeIdxFolder(dir, { train, test: testSet, gzip: true });
  unlinkSync(paths.trainLabels);
  unlinkSync(paths.testImages);
  await expectError(() => loadIdxFolder(dir), 'DATA_NOT_FOUND', dir, /missing IDX files: train-labels-idx1-ubyte\[\.gz\], t10k-images-idx3-ubyte\[\.gz\]$/);
  await expectError(() => loadIdxFolder(join(root, 'absent')), 'DATA_NOT_FOUND', join(root, 'absent'), /does not exist/);
});

test('folder-level faults name the file at fault', async () => {
  const setup = () => {
    const dir = freshDir();
    return writeIdxFolder(dir, { train, test: testSet });
  };
  let p = setup();
  writeFileSync(p.trainLabels, encodeIdx('ubyte', [11], train.labels.subarray(0, 11)));
  await expectError(() => loadIdxFolder(join(p.trainLabels, '..')), 'DATA_INVALID', p.trainLabels, /11 labels but .*train-images-idx3-ubyte holds 12 images/);

  p = setup();
  writeFileSync(p.testLabels, encodeIdx('byte', [6], [0, 1, -2, 0, 1, 2]));
  await expectError(() => loadIdxFolder(join(p.testLabels, '..')), 'DATA_INVALID', p.testLabels, /label 2 is -2; labels must be non-negative integers/);

  p = setup();
  writeFileSync(p.testLabels, encodeIdx('float', [6], [0, 1, 2, 0.5, 1, 2]));
  await expectError(() => loadIdxFolder(join(p.testLabels, '..')), 'DATA_INVALID', p.testLabels, /label 3 is 0.5/);

  p = setup();
  writeFileSync(p.trainLabels, encodeIdx('ubyte', [6, 2], new Array(12).fill(0)));
  await expectError(() => loadIdxFolder(join(p.trainLabels, '..')), 'DATA_INVALID', p.trainLabels, /labels must have 1 dimension/);

  p = setup();
  writeFileSync(p.testImages, encodeIdx('ubyte', [6, 3, 4], testSet.images));
  await expectError(() => loadIdxFolder(join(p.testImages, '..')), 'DATA_INVALID', p.testImages, /test images are \[3,4,1\] but train images .* are \[4,3,1\]/);

  p = setup();
  writeFileSync(p.trainImages, encodeIdx('int', [12, 5], Array.from({ length: 60 }, (_, i) => (i === 7 ? 2 ** 24 + 1 : i))));
  await expectError(() => loadIdxFolder(join(p.trainImages, '..')), 'DATA_INVALID', p.trainImages, /value 7 is 16777217; int values must be within ±2\^24/);

  p = setup();
  writeFileSync(p.trainImages, encodeIdx('float', [12, 4, 3], Array.from(train.images, (v, i) => (i === 5 ? Number.NaN : v))));
  await expectError(() => loadIdxFolder(join(p.trainImages, '..')), 'DATA_INVALID', p.trainImages, /image value 5 is NaN/);

  p = setup();
  const truncated = readFileSync(p.testImages).subarray(0, 50);
  writeFileSync(p.testImages, truncated);
  await expectError(() => loadIdxFolder(join(p.testImages, '..')), 'DATA_INVALID', p.testImages, /truncated data/);
});

test('integer sequences (int [count, steps] token ids) load as exact float32 ids of shape [steps], unscaled', async () => {
  const dir = freshDir();
  const p = writeIdxFolder(dir, { train, test: testSet });
  const ids = Array.from({ length: 12 * 5 }, (_, i) => (i * 7919) % 20000);
  writeFileSync(p.trainImages, encodeIdx('int', [12, 5], ids));
  writeFileSync(p.testImages, encodeIdx('short', [6, 5], Array.from({ length: 30 }, (_, i) => i)));
  const sets = await loadIdxFolder(dir);
  assert.deepEqual(sets.train.sampleShape, [5]);
  assert.deepEqual([...sets.train.x], ids);
  assert.deepEqual(sets.scaling, { scale: 1, offset: 0 });
});

test('when a raw file and its .gz both exist, either works and the raw one is read', async () => {
  const dir = freshDir();
  writeIdxFolder(dir, { train, test: testSet, gzip: true });
  const raw = writeIdxFolder(dir, { train, test: testSet });
  // Corrupt the gz copy: if it were read, loading would fail.
  renameSync(raw.trainImages, `${raw.trainImages}.tmp`);
  writeFileSync(`${raw.trainImages}.gz`, Uint8Array.from([0x1f, 0x8b, 0, 0]));
  renameSync(`${raw.trainImages}.tmp`, raw.trainImages);
  assert.equal((await loadIdxFolder(dir)).train.count, 12);
});
