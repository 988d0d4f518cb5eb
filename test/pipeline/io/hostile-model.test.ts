/**
 * A model.json is untrusted input (issue 15): shards stay inside the model's folder, only regular files are opened,
 * sizes are checked against the manifest before reading, and a malformed manifest or non-finite weight is a
 * SlimnetError naming the entry — never a read of another file, a hang, or a TypeError.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { SlimnetError } from '../../../pipeline/errors.ts';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { serializeModel } from '../../../pipeline/io/write-model.ts';
import { tinyModelIR } from '../../fixtures/tiny-task.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-hostile-model-'));
after(() => rmSync(root, { recursive: true, force: true }));

const { modelJson, shards } = serializeModel(tinyModelIR());
const SHARD = 'group1-shard1of1.bin';
const goodBytes = shards[0]!;
type Manifest = typeof modelJson.weightsManifest;

let n = 0;
/** model/ (model.json + the shard, or what `files` says) inside a case folder that also has outside/. */
function writeCase(edit: (manifest: Manifest) => void = () => {}, files: Record<string, Uint8Array | null> = {}): { modelJson: string; dir: string } {
  const dir = path.join(root, `case${n++}`);
  mkdirSync(path.join(dir, 'model'), { recursive: true });
  mkdirSync(path.join(dir, 'outside'));
  const json = structuredClone(modelJson);
  edit(json.weightsManifest);
  for (const [name, bytes] of Object.entries({ [SHARD]: goodBytes, ...files })) if (bytes) writeFileSync(path.join(dir, 'model', name), bytes);
  const file = path.join(dir, 'model/model.json');
  writeFileSync(file, JSON.stringify(json));
  return { modelJson: file, dir };
}

async function rejects(p: Promise<unknown>, message: RegExp): Promise<SlimnetError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof SlimnetError, `expected a SlimnetError, got ${(caught as Error)?.stack ?? caught}`);
  assert.match(caught.oneLine(), message);
  assert.ok(caught.hint, 'says what to do');
  return caught;
}

const mkfifo = (p: string) => execFileSync('mkfifo', [p]);

describe('shards are confined to the model folder', () => {
  test('a manifest path with ".." is refused without opening it, even with the matching size', async () => {
    const c = writeCase((m) => (m[0]!.paths = ['../outside/secret.bin']));
    writeFileSync(path.join(c.dir, 'outside/secret.bin'), goodBytes);
    await rejects(readModel(c.modelJson), /weightsManifest\[0\]\.paths\[0\] "\.\.\/outside\/secret\.bin" leaves the model's folder/);
    // The same path as a FIFO: opening it would block forever.
    const fifo = writeCase((m) => (m[0]!.paths = ['../outside/pipe']));
    mkfifo(path.join(fifo.dir, 'outside/pipe'));
    await rejects(readModel(fifo.modelJson), /leaves the model's folder/);
  });

  test('an absolute manifest path (/etc/passwd) is refused', async () => {
    await rejects(readModel(writeCase((m) => (m[0]!.paths = ['/etc/passwd'])).modelJson), /"\/etc\/passwd" is not a relative path/);
  });

  test('a shard that is a symbolic link to a file outside the folder is refused', async () => {
    const c = writeCase(() => {}, { [SHARD]: null });
    writeFileSync(path.join(c.dir, 'outside/real.bin'), goodBytes);
    symlinkSync(path.join(c.dir, 'outside/real.bin'), path.join(c.dir, 'model', SHARD));
    await rejects(readModel(c.modelJson), /is a symbolic link to .*outside the model's folder/);
    const dev = writeCase(() => {}, { [SHARD]: null });
    symlinkSync('/dev/zero', path.join(dev.dir, 'model', SHARD));
    await rejects(readModel(dev.modelJson), /outside the model's folder/);
  });

  test('a shard that is a FIFO or a folder is refused without blocking', { timeout: 20_000 }, async () => {
    const fifo = writeCase(() => {}, { [SHARD]: null });
    mkfifo(path.join(fifo.dir, 'model', SHARD));
    await rejects(readModel(fifo.modelJson), /is a FIFO/);
    const folder = writeCase(() => {}, { [SHARD]: null });
    mkdirSync(path.join(folder.dir, 'model', SHARD));
    await rejects(readModel(folder.modelJson), /is a folder/);
  });

  test('model.json itself must be a regular file: a FIFO does not block', { timeout: 20_000 }, async () => {
    const dir = path.join(root, `case${n++}`);
    mkdirSync(dir);
    mkfifo(path.join(dir, 'model.json'));
    await rejects(readModel(path.join(dir, 'model.json')), /model\.json is a FIFO/);
  });
});

describe('sizes are checked against the manifest before reading', () => {
  test('a [100000, 100000, 100000] weight over a 4 GiB (sparse) shard is refused from the sizes alone', async () => {
    const c = writeCase((m) => (m[0]!.weights[0]!.shape = [100000, 100000, 100000]));
    truncateSync(path.join(c.dir, 'model', SHARD), 4 * 1024 ** 3);
    const started = performance.now();
    await rejects(readModel(c.modelJson), /holds 4294967296 bytes but its 2 weights need exactly 4000000000000012/);
    process.stderr.write(`# refused in ${(performance.now() - started).toFixed(1)} ms\n`);
  });

  test('a shape whose byte size exceeds any file is refused by arithmetic', async () => {
    await rejects(readModel(writeCase((m) => (m[0]!.weights[0]!.shape = [1e9, 1e9, 1e9])).modelJson), /more elements than any file can hold/);
  });

  test('a truncated shard, and a shard longer than its weights, are refused naming the shard', async () => {
    await rejects(readModel(writeCase(() => {}, { [SHARD]: goodBytes.subarray(0, goodBytes.length - 1) }).modelJson), /holds 443 bytes but its 2 weights need exactly 444/);
    const longer = new Uint8Array(goodBytes.length + 8);
    longer.set(goodBytes);
    await rejects(readModel(writeCase(() => {}, { [SHARD]: longer }).modelJson), /holds 452 bytes but its 2 weights need exactly 444/);
  });
});

describe('manifest entries and values', () => {
  const cases: Array<[string, (m: Manifest) => void, RegExp]> = [
    ['shape is not a list', (m) => ((m[0]!.weights[0] as any).shape = 'big'), /weights\[0\] "dense\/kernel": shape "big" is not a list of non-negative integers/],
    ['negative dimension', (m) => (m[0]!.weights[0]!.shape = [-36, -3]), /shape \[-36,-3\] is not a list of non-negative integers/],
    ['fractional dimension', (m) => (m[0]!.weights[0]!.shape = [36.5, 3]), /is not a list of non-negative integers/],
    ['unknown dtype', (m) => (m[0]!.weights[0]!.dtype = 'complex64'), /dtype "complex64" is not supported/],
    ['missing name', (m) => delete (m[0]!.weights[0] as any).name, /weights\[0\]: has no name/],
    ['weights is not a list', (m) => ((m[0] as any).weights = {}), /weightsManifest\[0\]: is not \{ paths/],
    ['non-finite quantisation scale', (m) => (m[0]!.weights[1]!.quantization = { dtype: 'uint8', scale: 'x' as any, min: 0 }), /quantization\.scale "x" is not a finite number/],
  ];
  for (const [name, edit, message] of cases) {
    test(name, async () => {
      await rejects(readModel(writeCase(edit).modelJson), message);
    });
  }

  test('NaN and Infinity weights are named errors', async () => {
    for (const bad of [NaN, Infinity, -Infinity]) {
      const bytes = goodBytes.slice();
      new DataView(bytes.buffer).setFloat32(4 * 40, bad, true); // dense/kernel value 40
      await rejects(readModel(writeCase(() => {}, { [SHARD]: bytes }).modelJson), new RegExp(`weight "dense/kernel": value 40 is ${bad}`));
    }
  });

  test('a weight past ±2^64 is a named error (float32 products overflow; runtimes disagree); 2^64 itself is read', async () => {
    const bytes = goodBytes.slice();
    new DataView(bytes.buffer).setFloat32(4 * 40, -3.4e38, true);
    await rejects(readModel(writeCase(() => {}, { [SHARD]: bytes }).modelJson), /weight "dense\/kernel": value 40 is -3\.40e\+38, past ±1\.8e19 where float32 products overflow/);
    new DataView(bytes.buffer).setFloat32(4 * 40, 2 ** 64, true);
    assert.equal((await readModel(writeCase(() => {}, { [SHARD]: bytes }).modelJson)).layers[2]!.weights[0]!.values[40], 2 ** 64);
  });
});
