/**
 * Data files are untrusted input (issue 15): only regular files are read, sizes are checked before allocating,
 * gzip is inflated no further than the header declares, and labels must fit the model.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadData } from '../../../pipeline/data/load-data.ts';
import { readIdxFile } from '../../../pipeline/data/idx.ts';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { encodeIdx, syntheticIdxSet, writeIdxFolder } from '../../fixtures/idx.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-hostile-data-'));
after(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

function folder(): { dir: string; files: ReturnType<typeof writeIdxFolder> } {
  const dir = path.join(root, `d${n++}`);
  const files = writeIdxFolder(dir, { train: syntheticIdxSet(20, 4, 4, 3, 1), test: syntheticIdxSet(9, 4, 4, 3, 2) });
  return { dir, files };
}

async function rejects(p: Promise<unknown>, where: string, message: RegExp): Promise<void> {
  let caught: unknown;
  await assert.rejects(p, (e) => ((caught = e), true));
  assert.ok(caught instanceof SlimnetError, `expected a SlimnetError, got ${(caught as Error)?.stack ?? caught}`);
  assert.equal(caught.where, where);
  assert.match(caught.message, message);
}

const load = (dir: string, extra: { inputShape?: (number | null)[]; outputClasses?: number } = {}) =>
  loadData({ source: 'idx', dir }, { validationFraction: 0.2, seed: 1, inputShape: [4, 4, 1], outputClasses: 3, ...extra });

test('/dev/zero as an IDX file is refused as a device, not read', { timeout: 20_000 }, async () => {
  const { dir, files } = folder();
  unlinkSync(files.trainImages);
  symlinkSync('/dev/zero', files.trainImages);
  await rejects(load(dir), files.trainImages, /IDX file is a device/);
});

test('a FIFO as an IDX file is refused without blocking', { timeout: 20_000 }, async () => {
  const { dir, files } = folder();
  unlinkSync(files.testLabels);
  execFileSync('mkfifo', [files.testLabels]);
  await rejects(load(dir), files.testLabels, /IDX file is a FIFO/);
});

test('gzip is inflated no further than the header declares (a bomb stops early)', async () => {
  const header = encodeIdx('ubyte', [10, 4, 4], new Uint8Array(160));
  const bomb = new Uint8Array(header.length + 256 * 1024 * 1024);
  bomb.set(header);
  const file = path.join(root, 'bomb.gz');
  writeFileSync(file, gzipSync(bomb, { level: 1 }));
  await rejects(readIdxFile(file), file, /more data than its dims \[10,4,4\] of ubyte declare \(160 bytes\); stopped reading/);
});

test('a gzip header declaring more than the file can inflate to is refused before allocating', async () => {
  const file = path.join(root, 'liar.gz');
  writeFileSync(file, gzipSync(encodeIdx('ubyte', [60000, 280, 280], new Uint8Array(10))));
  await rejects(readIdxFile(file), file, /declare 4704000000 values; slimnet holds data in memory|more than a \d+-byte gzip file can hold/);
  const big = path.join(root, 'liar2.gz');
  writeFileSync(big, gzipSync(encodeIdx('ubyte', [60000, 28, 28], new Uint8Array(10))));
  await rejects(readIdxFile(big), big, /declare 47040000 bytes of data, more than a \d+-byte gzip file can hold/);
});

test("labels outside the model's output classes name the file and the label", async () => {
  const { dir, files } = folder();
  writeFileSync(files.testLabels, encodeIdx('ubyte', [9], [0, 1, 2, 0, 1, 7, 0, 1, 2]));
  await rejects(load(dir), files.testLabels, /label 7 \(sample 5\) is outside the model's 3 output classes \(0–2\)/);
});

test('labels too large for a class index are refused, not wrapped', async () => {
  const { dir, files } = folder();
  writeFileSync(files.trainLabels, encodeIdx('double', [20], Array.from({ length: 20 }, (_, i) => (i === 4 ? 1e12 : 0))));
  await rejects(load(dir, { outputClasses: undefined }), files.trainLabels, /label 4 is 1000000000000/);
});

test('a model input that does not fit the data says how they differ', async () => {
  const { dir } = folder();
  await rejects(load(dir, { inputShape: [7, 7, 1] }), dir, /model expects input \[7, 7, 1\] but data samples are \[4, 4, 1\] \(49 values per sample vs 16\)/);
});
