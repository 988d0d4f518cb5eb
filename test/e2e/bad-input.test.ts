/**
 * Issue 15's bad-input reports through the CLI entry: each is exit 2 with one line naming the file, entry, layer
 * or label and what to do — not exit 0 shipping the wrong thing, exit 1 blaming an exporter, or exit 3.
 */
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { runCliInProcess, runCliProcess, type CliResult } from '../fixtures/cli.ts';
import { encodeIdx } from '../fixtures/idx.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import { TINY, tinyHiddenModelIR, writeTinyTask } from '../fixtures/tiny-task.ts';

let template: string;
const sandboxes: string[] = [];
before(async () => {
  template = mkdtempSync(path.join(os.tmpdir(), 'slimnet-bad-input-'));
  sandboxes.push(template);
  await writeTinyTask(template);
});
after(() => {
  for (const dir of sandboxes) rmSync(dir, { recursive: true, force: true });
});

function project(): string {
  const dir = path.join(mkdtempSync(path.join(os.tmpdir(), 'slimnet-bad-input-')), 'project');
  sandboxes.push(path.dirname(dir));
  cpSync(template, dir, { recursive: true });
  return dir;
}

const args = ['compress', '--model', 'model/model.json', '--data', 'data', '--stages', 'export', '--out', 'out'];

function assertBadInput(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.errorLines.length, 1, r.stderr);
  assert.match(r.errorLines[0]!, pattern);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

function editManifest(dir: string, edit: (weights: any[], group: any) => void): void {
  const file = path.join(dir, 'model/model.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json.weightsManifest[0].weights, json.weightsManifest[0]);
  writeFileSync(file, JSON.stringify(json));
}

test('a manifest path to ../../etc/passwd with its exact size, named by a flag or by a config file: one line, exit 2, the file is not read (real CLI)', () => {
  const dir = project();
  const size = readFileSync('/etc/passwd').length;
  editManifest(dir, (weights, group) => {
    group.paths = ['../../../../../../../../etc/passwd'];
    weights.splice(0, weights.length, { name: 'dense/kernel', shape: [size], dtype: 'uint8', quantization: { dtype: 'uint8', scale: 1, min: 0 } });
  });
  const r = runCliProcess(args, dir);
  assertBadInput(r, /weightsManifest\[0\]\.paths\[0\] ".*etc\/passwd" leaves the model's folder/);
  // Refused by the CLI's preflight: the run (its start-up line, the engines) never started.
  assert.doesNotMatch(r.stderr, /stages .* budget/);
  // The same model named by a config file instead of flags: refused the same way, before the run starts.
  writeFileSync(path.join(dir, 'pipeline.config.ts'), "export default { model: 'model/model.json', data: { source: 'idx', dir: 'data' }, stages: ['export'], out: 'out' };\n");
  const fromConfig = runCliProcess(['compress'], dir);
  assertBadInput(fromConfig, /weightsManifest\[0\]\.paths\[0\] ".*etc\/passwd" leaves the model's folder/);
  assert.doesNotMatch(fromConfig.stderr, /stages .* budget/);
});

test('a [100000, 100000, 100000] weight: one line, exit 2', async () => {
  const dir = project();
  editManifest(dir, (weights) => (weights[0].shape = [100000, 100000, 100000]));
  assertBadInput(await runCliInProcess(args, dir), /group1-shard1of1\.bin: weightsManifest\[0\]: shard "group1-shard1of1\.bin" holds 444 bytes but its 2 weights need exactly 4000000000000012/);
});

test('NaN weights: exit 2 naming the weight (not an exporter failure)', async () => {
  const dir = project();
  const shard = path.join(dir, 'model/group1-shard1of1.bin');
  const bytes = readFileSync(shard);
  bytes.writeFloatLE(Number.NaN, 4 * 7);
  writeFileSync(shard, bytes);
  assertBadInput(await runCliInProcess(args, dir), /weight "dense\/kernel": value 7 is NaN/);
});

test('finite weights that overflow float32 on the data: exit 2 naming the model (not an exporter failure)', async () => {
  const dir = project();
  // Every kernel entry 1e19 (below the 2^64 a weight may have): the hidden layer's sums reach ~1e20 and the output
  // layer's products of those with 1e19 pass float32's largest value.
  const ir = tinyHiddenModelIR();
  for (const l of ir.layers) for (const w of l.weights) if (w.name === 'kernel') w.values.fill(1e19);
  await writeModel(ir, path.join(dir, 'model'));
  assertBadInput(await runCliInProcess(args, dir), /model\/model\.json: computes NaN or Infinity for validation sample \d+: its weights are finite but overflow float32 on this data \(largest \|weight\| 1\.00e\+19\)/);
  assert.ok(!existsSync(path.join(dir, 'out')), 'nothing written');
});

test("labels outside the model's outputs: exit 2 naming the labels file and the label", async () => {
  const dir = project();
  const labels = Array.from({ length: TINY.test }, (_, i) => (i === 11 ? 9 : i % 3));
  writeFileSync(path.join(dir, 'data/t10k-labels-idx1-ubyte.gz'), encodeIdx('ubyte', [TINY.test], labels));
  assertBadInput(await runCliInProcess(args, dir), /t10k-labels-idx1-ubyte\.gz: label 9 \(sample 11\) is outside the model's 3 output classes/);
});
