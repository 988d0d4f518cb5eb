import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { checkOutFolder, MARKER_FILE, prepareCacheFolder, RunFolder } from '../../../pipeline/io/output-folder.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-outfolder-'));
after(() => rmSync(root, { recursive: true, force: true }));

let n = 0;
/** A sandbox with model/model.json and data/. */
function sandbox(): { dir: string; model: string; dataDir: string } {
  const dir = path.join(root, `case${n++}`);
  mkdirSync(path.join(dir, 'model'), { recursive: true });
  mkdirSync(path.join(dir, 'data'));
  writeFileSync(path.join(dir, 'model/model.json'), '{}');
  return { dir, model: path.join(dir, 'model/model.json'), dataDir: path.join(dir, 'data') };
}

/** A pid that is certainly not running any more. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
}

describe('RunFolder', () => {
  test('commit swaps the run into place, marks it, and leaves nothing beside it', async () => {
    const s = sandbox();
    const out = path.join(s.dir, 'artifacts/run');
    for (const content of ['first', 'second']) {
      const folder = await RunFolder.begin(out);
      writeFileSync(path.join(folder.dir, 'report.json'), content);
      await folder.commit(() => checkOutFolder(out, { model: s.model, cwd: s.dir }));
      await folder.abort();
      assert.equal(readFileSync(path.join(out, 'report.json'), 'utf8'), content);
    }
    assert.deepEqual(JSON.parse(readFileSync(path.join(out, MARKER_FILE), 'utf8')), { createdBy: 'slimnet', kind: 'run', entries: ['report.json'] });
    assert.deepEqual(readdirSync(path.join(s.dir, 'artifacts')), ['run']);
  });

  test('abort removes the scratch folder and leaves --out as it was', async () => {
    const s = sandbox();
    const out = path.join(s.dir, 'out');
    const folder = await RunFolder.begin(out);
    writeFileSync(path.join(folder.dir, 'half.bin'), 'x');
    await folder.abort();
    assert.deepEqual(readdirSync(s.dir).sort(), ['data', 'model']);
  });

  test('a later run sweeps what a killed run left: its scratch folder, and the previous artifacts renamed aside', async () => {
    const s = sandbox();
    const out = path.join(s.dir, 'out');
    const pid = deadPid();
    const scratch = path.join(s.dir, `.out.slimnet-partial-${pid}-0badc0de`);
    const aside = path.join(s.dir, `.out.slimnet-old-${pid}-0badc0de`);
    for (const [dir, kind] of [[scratch, 'scratch'], [aside, 'run']]) {
      mkdirSync(dir);
      writeFileSync(path.join(dir, MARKER_FILE), JSON.stringify({ createdBy: 'slimnet', kind, entries: ['report.json'] }));
      writeFileSync(path.join(dir, 'report.json'), kind);
    }
    // A look-alike without slimnet's marker is not slimnet's to remove.
    const foreign = path.join(s.dir, `.out.slimnet-partial-${pid}-0000abcd`);
    mkdirSync(foreign);
    const folder = await RunFolder.begin(out);
    assert.equal(readFileSync(path.join(out, 'report.json'), 'utf8'), 'run', 'the previous artifacts are back');
    assert.equal(existsSync(scratch), false);
    assert.equal(existsSync(foreign), true);
    await folder.abort();
  });
});

describe('checkOutFolder', () => {
  test('a run folder written before markers existed (a slimnet report.json) is replaceable; extra files need --force', () => {
    const s = sandbox();
    const out = path.join(s.dir, 'old-run');
    mkdirSync(path.join(out, 'export'), { recursive: true });
    writeFileSync(path.join(out, 'report.json'), JSON.stringify({ tool: { name: 'slimnet' }, stages: [{ name: 'export' }] }));
    writeFileSync(path.join(out, 'report.md'), '#');
    checkOutFolder(out, { model: s.model, cwd: s.dir });
    writeFileSync(path.join(out, 'mine.txt'), '');
    assert.throws(() => checkOutFolder(out, { model: s.model, cwd: s.dir }), /holds files slimnet did not write there \(mine\.txt\)/);
    checkOutFolder(out, { model: s.model, cwd: s.dir }, true);
  });

  test('--out inside the cache folder, or holding it, is refused', () => {
    const s = sandbox();
    const cacheDir = path.join(s.dir, 'artifacts/.cache');
    assert.throws(() => checkOutFolder(path.join(cacheDir, 'x'), { model: s.model, cwd: s.dir, cacheDir }), /inside the cache folder/);
    assert.throws(() => checkOutFolder(path.join(s.dir, 'artifacts'), { model: s.model, cwd: s.dir, cacheDir }), /contains the cache folder/);
  });
});

describe('prepareCacheFolder', () => {
  test('creates and marks a new cache; adopts one written before markers (only sha256-named entries)', () => {
    const s = sandbox();
    const fresh = path.join(s.dir, 'cache-a');
    prepareCacheFolder(fresh, { model: s.model, cwd: s.dir, out: path.join(s.dir, 'out') });
    assert.equal(JSON.parse(readFileSync(path.join(fresh, MARKER_FILE), 'utf8')).kind, 'cache');
    const legacy = path.join(s.dir, 'cache-b');
    mkdirSync(path.join(legacy, 'a'.repeat(64)), { recursive: true });
    prepareCacheFolder(legacy, { model: s.model, cwd: s.dir, out: path.join(s.dir, 'out') });
    assert.ok(existsSync(path.join(legacy, MARKER_FILE)));
  });

  test('a cache inside --out, or a foreign folder, is refused', () => {
    const s = sandbox();
    const out = path.join(s.dir, 'out');
    assert.throws(() => prepareCacheFolder(path.join(out, '.cache'), { model: s.model, cwd: s.dir, out }), /inside the output folder/);
    mkdirSync(path.join(s.dir, 'docs'));
    writeFileSync(path.join(s.dir, 'docs/readme.md'), '');
    assert.throws(() => prepareCacheFolder(path.join(s.dir, 'docs'), { model: s.model, cwd: s.dir, out }), /slimnet did not create \(it holds readme\.md\)/);
    assert.deepEqual(readdirSync(path.join(s.dir, 'docs')), ['readme.md']);
  });
});
