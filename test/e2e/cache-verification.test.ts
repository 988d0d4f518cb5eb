/**
 * A cache entry is verified before use (issue 15): one flipped byte, a torn entry.json or an added file discards the
 * entry and the stage runs again — never "accepted (cached)" with a model that is not what was measured.
 */
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import type { Report } from '../../pipeline/report.ts';
import { runCliInProcess } from '../fixtures/cli.ts';
import { writeTinyTask } from '../fixtures/tiny-task.ts';

let template: string;
const sandboxes: string[] = [];
before(async () => {
  template = mkdtempSync(path.join(os.tmpdir(), 'slimnet-cache-verify-'));
  sandboxes.push(template);
  await writeTinyTask(template);
});
after(() => {
  for (const dir of sandboxes) rmSync(dir, { recursive: true, force: true });
});

const args = ['compress', '--model', 'model/model.json', '--data', 'data', '--stages', 'export', '--out', 'out', '--json'];

async function run(dir: string): Promise<{ report: Report; stderr: string }> {
  const r = await runCliInProcess(args, dir);
  assert.equal(r.code, 0, r.stderr);
  return { report: JSON.parse(r.stdout) as Report, stderr: r.stderr };
}

/** A project whose cache holds one entry (the export stage's); returns the entry's folder. */
async function cachedProject(): Promise<{ dir: string; entry: string; first: Report }> {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'slimnet-cache-verify-')), 'project');
  sandboxes.push(path.dirname(dir));
  cpSync(template, dir, { recursive: true });
  const { report: first } = await run(dir);
  assert.equal(first.stages[0]!.cached, false);
  const cache = path.join(dir, 'artifacts/.cache');
  const entries = readdirSync(cache).filter((n) => /^[0-9a-f]{64}$/.test(n));
  assert.equal(entries.length, 1);
  return { dir, entry: path.join(cache, entries[0]!), first };
}

function flipByte(file: string, at: number): void {
  const bytes = readFileSync(file);
  bytes[at] ^= 0x40;
  writeFileSync(file, bytes);
}

const tamperings: Array<[string, (entry: string) => void, RegExp]> = [
  ['one flipped byte in a shard the entry restores', (e) => flipByte(path.join(e, 'files/tfjs/group1-shard1of1.bin'), 100), /files\/tfjs\/group1-shard1of1\.bin does not match its sha256/],
  ["one flipped byte in the entry's output model", (e) => flipByte(path.join(e, 'ir/group1-shard1of1.bin'), 7), /ir\/ \(the stage's output model\) has changed/],
  ['a torn entry.json', (e) => writeFileSync(path.join(e, 'entry.json'), '{"format": 2, "entry": {'), /entry\.json is unreadable/],
  ['a file added to the entry', (e) => appendFileSync(path.join(e, 'files/extra.txt'), 'x'), /files\/extra\.txt was not in the entry/],
];

for (const [name, tamper, message] of tamperings) {
  test(`${name}: the entry is discarded and the stage re-run`, async () => {
    const { dir, entry, first } = await cachedProject();
    tamper(entry);
    const { report: second, stderr } = await run(dir);
    assert.equal(second.stages[0]!.cached, false, 'not served from the corrupt entry');
    assert.match(stderr, /export: cache entry [0-9a-f]{12} is corrupt \(/);
    assert.match(stderr, message);
    const { latencyMs: _l1, ...measuredAgain } = second.stages[0]!.metrics!;
    const { latencyMs: _l2, ...measuredFirst } = first.stages[0]!.metrics!;
    assert.deepEqual(measuredAgain, measuredFirst, 'the same result as the first run (latency aside)');
    // The artifacts shipped are the stage's own output, not the tampered bytes.
    const shipped = readFileSync(path.join(dir, 'out', second.exports.tfjs!.replace('model.json', 'group1-shard1of1.bin')));
    assert.deepEqual(shipped, readFileSync(path.join(dir, 'model/group1-shard1of1.bin')));
    // The entry was rewritten: the next run is served from it.
    const { report: third } = await run(dir);
    assert.equal(third.stages[0]!.cached, true);
  });
}
