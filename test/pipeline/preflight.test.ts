/**
 * The CLI's preflight (pipeline/preflight.ts) refuses a bad model file, manifest, shard or IDX header before the
 * run starts, and it must say exactly what the run would say: each case below is checked against the full
 * readers (readModel, loadIdxFolder, loadIdxSetFolder) for the same SlimnetError. It must also stay light — no
 * tfjs, no onnxruntime — or it would not be fast.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadIdxFolder, loadIdxSetFolder } from '../../pipeline/data/idx.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { readModel } from '../../pipeline/io/read-model.ts';
import { preflightInputs } from '../../pipeline/preflight.ts';
import { encodeIdx } from '../fixtures/idx.ts';
import { writeTinyTask } from '../fixtures/tiny-task.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-preflight-'));
const template = path.join(root, 'template');
after(() => rmSync(root, { recursive: true, force: true }));
before(async () => {
  await writeTinyTask(template);
});

let n = 0;
/** A copy of the tiny task (model/, and data/ with gzipped IDX files; a raw file written beside one wins). */
function task(): string {
  const dir = path.join(root, `t${n++}`);
  cpSync(template, dir, { recursive: true });
  return dir;
}

function editModelJson(dir: string, edit: (json: any) => void): void {
  const file = path.join(dir, 'model/model.json');
  const json = JSON.parse(readFileSync(file, 'utf8'));
  edit(json);
  writeFileSync(file, JSON.stringify(json));
}

async function caught(p: Promise<unknown>): Promise<SlimnetError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  assert.ok(e instanceof SlimnetError, `expected a SlimnetError, got ${(e as Error)?.stack ?? e}`);
  return e;
}

/**
 * The preflight's error is the full reader's error, word for word. Each is started only when awaited: a second
 * promise started early could reject before its handler is attached (an unhandled rejection fails the test).
 */
async function sameRefusal(preflight: () => Promise<unknown>, full: () => Promise<unknown>, message: RegExp): Promise<void> {
  const early = await caught(preflight());
  const late = await caught(full());
  assert.equal(early.oneLine(), late.oneLine());
  assert.match(early.oneLine(), message);
}

const model = (dir: string) => path.join(dir, 'model/model.json');
const data = (dir: string) => path.join(dir, 'data');
const idx = (dir: string, name: string) => path.join(dir, 'data', name);

const modelCases: Array<[string, (dir: string) => void, RegExp]> = [
  ['a manifest path out of the model folder', (dir) => editModelJson(dir, (j) => (j.weightsManifest[0].paths = ['../../../../etc/passwd'])), /leaves the model's folder/],
  ['a [100000, 100000, 100000] weight', (dir) => editModelJson(dir, (j) => (j.weightsManifest[0].weights[0].shape = [100000, 100000, 100000])), /need exactly 4000000000000012/],
  ['a shard that is a FIFO', (dir) => {
    unlinkSync(path.join(dir, 'model/group1-shard1of1.bin'));
    execFileSync('mkfifo', [path.join(dir, 'model/group1-shard1of1.bin')]);
  }, /is a FIFO/],
  ['no modelTopology', (dir) => editModelJson(dir, (j) => delete j.modelTopology), /has no modelTopology/],
  ['a model.json that is not JSON', (dir) => writeFileSync(model(dir), '{"modelTopology": '), /is not valid JSON/],
];

for (const [name, mutate, message] of modelCases) {
  test(`model: ${name} is refused by the preflight as by the reader`, async () => {
    const dir = task();
    mutate(dir);
    await sameRefusal(() => preflightInputs({ model: model(dir) }), () => readModel(model(dir)), message);
  });
}

const dataCases: Array<[string, (dir: string) => void, RegExp]> = [
  ['a truncated images file', (dir) => writeFileSync(idx(dir, 'train-images-idx3-ubyte'), encodeIdx('ubyte', [150, 6, 6], new Uint8Array(100))), /truncated data/],
  ['a gzip file whose header declares more than it can inflate to', (dir) => {
    writeFileSync(idx(dir, 't10k-images-idx3-ubyte.gz'), gzipSync(encodeIdx('ubyte', [60, 600, 600], [])));
  }, /more than a \d+-byte gzip file can hold/],
  ['more labels than images', (dir) => writeFileSync(idx(dir, 'train-labels-idx1-ubyte'), encodeIdx('ubyte', [151], new Uint8Array(151))), /151 labels but .* holds 150 images/],
  ['two-dimensional labels', (dir) => writeFileSync(idx(dir, 't10k-labels-idx1-ubyte'), encodeIdx('ubyte', [60, 1], new Uint8Array(60))), /labels must have 1 dimension/],
  ['five-dimensional images', (dir) => writeFileSync(idx(dir, 'train-images-idx3-ubyte'), encodeIdx('ubyte', [150, 2, 3, 2, 3], new Uint8Array(150 * 36))), /images must have 2 to 4 dimensions/],
  ['test images of another size than train', (dir) => writeFileSync(idx(dir, 't10k-images-idx3-ubyte'), encodeIdx('ubyte', [60, 5, 5], new Uint8Array(60 * 25))), /test images are \[5,5,1\] but train images/],
  ['a bad magic number', (dir) => writeFileSync(idx(dir, 't10k-labels-idx1-ubyte'), Buffer.from('PK\x03\x04 not idx')), /bad magic number/],
  ['a missing labels file', (dir) => unlinkSync(idx(dir, 't10k-labels-idx1-ubyte.gz')), /missing IDX files/],
];

for (const [name, mutate, message] of dataCases) {
  test(`data: ${name} is refused by the preflight as by the reader`, async () => {
    const dir = task();
    mutate(dir);
    await sameRefusal(() => preflightInputs({ data: data(dir) }), () => loadIdxFolder(data(dir)), message);
  });
}

test('a validation folder whose labels outnumber its images is refused by the preflight as by the reader', async () => {
  const dir = task();
  const val = path.join(dir, 'val');
  mkdirSync(val);
  writeFileSync(path.join(val, 'val-images-idx3-ubyte'), encodeIdx('ubyte', [4, 6, 6], new Uint8Array(4 * 36)));
  writeFileSync(path.join(val, 'val-labels-idx1-ubyte'), encodeIdx('ubyte', [5], new Uint8Array(5)));
  await sameRefusal(() => preflightInputs({ validationData: val }), () => loadIdxSetFolder(val), /5 labels but .* holds 4 images/);
});

test('sane inputs pass, relative paths resolve against cwd, and the preflight loads neither tfjs nor onnxruntime', () => {
  const dir = task();
  const script = `
    const { preflightInputs } = await import(${JSON.stringify(path.resolve(import.meta.dirname, '../../pipeline/preflight.ts'))});
    await preflightInputs({ model: 'model/model.json', data: 'data' }, ${JSON.stringify(dir)});
    const native = process.report.getReport().sharedObjects.filter((s) => /onnxruntime|tensorflow/.test(s));
    console.log(JSON.stringify({ tfjs: globalThis._tfengine !== undefined, native }));`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', cwd: path.resolve(import.meta.dirname, '../..') });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').at(-1)!), { tfjs: false, native: [] });
});
