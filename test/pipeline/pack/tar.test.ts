/** The pack's ustar writer/reader: deterministic bytes, round trip, long paths, and refusal of anything unsafe. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { isSafeRelativePath, readTar, readTgz, TarError, writeTar, writeTgz } from '../../../pipeline/pack/tar.ts';

const entries = [
  { path: 'manifest.json', data: Buffer.from('{"a":1}\n') },
  { path: 'tfjs/model.json', data: Buffer.from('{}') },
  { path: 'tfjs/group1-shard1of1.bin', data: new Uint8Array(1025).map((_, i) => i % 251) },
  { path: `${'d'.repeat(120)}/${'f'.repeat(90)}.bin`, data: Buffer.alloc(0) },
];

test('the same entries give the same bytes; they read back exactly, in order', () => {
  const a = writeTgz(entries);
  const b = writeTgz(entries.map((e) => ({ ...e, data: Uint8Array.from(e.data) })));
  assert.deepEqual(a, b);
  assert.equal(a[9], 255, 'gzip OS byte fixed to "unknown"');
  const back = readTgz(a);
  assert.deepEqual(back.map((e) => e.path), entries.map((e) => e.path));
  back.forEach((e, i) => assert.deepEqual(Uint8Array.from(e.data), Uint8Array.from(entries[i]!.data)));
});

test('GNU tar reads what we write (mode 0644, owner 0, mtime 0)', (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-tar-'));
  const file = path.join(dir, 'x.tgz');
  writeFileSync(file, writeTgz(entries));
  const r = spawnSync('tar', ['-tvzf', file], { encoding: 'utf8' });
  if (r.error) return t.skip(`no tar command: ${r.error.message}`);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, entries.length);
  assert.match(lines[0]!, /^-rw-r--r-- 0\/0 +8 1970-01-01 00:00 manifest\.json$/);
  assert.ok(lines[3]!.endsWith(entries[3]!.path));
});

test('unsafe or malformed archives are refused', () => {
  assert.equal(isSafeRelativePath('a/../b'), false);
  assert.equal(isSafeRelativePath('/etc/passwd'), false);
  assert.equal(isSafeRelativePath('a//b'), false);
  assert.equal(isSafeRelativePath('a/b.bin'), true);
  const tar = writeTar([{ path: 'ok.bin', data: Buffer.from('x') }]);
  const evil = Buffer.from(tar);
  evil.write('../evil', 0, 'utf8');
  assert.throws(() => readTar(evil), TarError, 'a changed name breaks the header checksum');
  const link = Buffer.from(tar);
  link[156] = '2'.charCodeAt(0);
  assert.throws(() => readTar(link), TarError);
  assert.throws(() => readTar(tar.subarray(0, 600)), TarError, 'truncated');
  const gz = writeTgz([{ path: 'a.bin', data: Buffer.alloc(4000, 7) }]);
  gz[gz.length - 6] ^= 1;
  assert.throws(() => readTgz(gz), TarError, 'the gzip CRC catches a flipped byte');
  assert.throws(() => readTgz(Buffer.from(readFileSync(new URL(import.meta.url)))), TarError, 'not gzip');
});
