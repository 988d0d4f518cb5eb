/** data.scale / data.offset: x = raw · scale + offset, with defaults that keep today's inputs bit for bit. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { loadData } from '../../../pipeline/data/load-data.ts';
import { loadIdxFolder } from '../../../pipeline/data/idx.ts';
import { loadMnistPackage } from '../../../pipeline/data/mnist-package.ts';
import { validateConfig } from '../../../pipeline/config.ts';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { syntheticIdxSet, writeIdxFolder } from '../../fixtures/idx.ts';

const root = mkdtempSync(join(tmpdir(), 'slimnet-scaling-'));
after(() => rmSync(root, { recursive: true, force: true }));
const idxDir = join(root, 'idx');
const trainSpec = syntheticIdxSet(40, 4, 4, 4, 1);
writeIdxFolder(idxDir, { train: trainSpec, test: syntheticIdxSet(12, 4, 4, 4, 2) });
const base = { validationFraction: 0.25, seed: 3 };

test('IDX bytes: the default is byte / 255 exactly; raw pixels, [-1, 1] and mean/std scalings apply per pixel', async () => {
  const raw = trainSpec.images;
  const defaults = await loadIdxFolder(idxDir);
  assert.deepEqual(defaults.scaling, { scale: 1 / 255, offset: 0 });
  for (let i = 0; i < raw.length; i++) assert.equal(defaults.train.x[i], Math.fround(raw[i]! / 255));
  const pixels = await loadIdxFolder(idxDir, { scale: 1 });
  assert.deepEqual(Array.from(pixels.train.x), Array.from(raw));
  const signed = await loadIdxFolder(idxDir, { scale: 1 / 127.5, offset: -1 });
  for (let i = 0; i < raw.length; i++) assert.equal(signed.train.x[i], Math.fround(raw[i]! / 127.5 - 1));
  const std = await loadIdxFolder(idxDir, { scale: 1 / (255 * 0.3081), offset: -0.1307 / 0.3081 });
  assert.ok(Math.abs(std.train.x[0]! - (raw[0]! / 255 - 0.1307) / 0.3081) < 1e-5);
});

test('mnist package: the default keeps the stored values bit for bit; scale 1 gives 0–255 pixels', () => {
  const stored = loadMnistPackage();
  assert.deepEqual(stored.scaling, { scale: 1 / 255, offset: 0 });
  const pixels = loadMnistPackage({ scale: 1 });
  for (let i = 0; i < 2000; i++) assert.equal(pixels.test.x[i], Math.fround(stored.test.x[i]! * 255));
  const centred = loadMnistPackage({ offset: -0.5 });
  for (let i = 0; i < 2000; i++) assert.equal(centred.test.x[i], Math.fround(stored.test.x[i]! - 0.5));
});

test('loadData reports the scaling it applied; arrays are used as given unless a scale is set', async () => {
  const idx = await loadData({ source: 'idx', dir: idxDir, scale: 1, offset: -128 }, { ...base, inputShape: [16] });
  assert.equal(idx.describe.scale, 1);
  assert.equal(idx.describe.offset, -128);
  const arrays = { train: { x: [1, 2, 3, 4], y: [0, 1] }, test: { x: [5, 6], y: [1] }, sampleShape: [2] };
  const plain = await loadData({ source: 'arrays', load: () => arrays }, { ...base, validationFraction: 0.5, inputShape: [2] });
  assert.deepEqual(Array.from(plain.test.x), [5, 6]);
  assert.equal(plain.describe.scale, 1);
  const scaled = await loadData({ source: 'arrays', load: () => arrays, scale: 2, offset: 1 }, { ...base, validationFraction: 0.5, inputShape: [2] });
  assert.deepEqual(Array.from(scaled.test.x), [11, 13]);
  assert.notEqual(scaled.fingerprint, plain.fingerprint);
});

test('IDX images are shaped to the model input: [4, 4, 1], [4, 4] or flat [16]', async () => {
  for (const shape of [[4, 4, 1], [4, 4], [16]]) {
    const data = await loadData({ source: 'idx', dir: idxDir }, { ...base, inputShape: shape });
    assert.deepEqual(data.train.sampleShape, shape);
  }
});

test('data.scale must be a finite non-zero number; the error names the key', () => {
  const config = (data: Record<string, unknown>) => ({ model: 'm.json', stages: ['export'], data: { source: 'idx', dir: 'd', ...data } });
  assert.equal(validateConfig(config({ scale: 0.5, offset: -1 }), 'c.ts').data.scale, 0.5);
  for (const bad of [{ scale: 0 }, { scale: Number.NaN }, { offset: Number.POSITIVE_INFINITY }, { scale: '1/255' }]) {
    assert.throws(() => validateConfig(config(bad), 'c.ts'), (e: unknown) => e instanceof SlimnetError && /c\.ts: data\.(scale|offset)/.test(e.oneLine()));
  }
});
