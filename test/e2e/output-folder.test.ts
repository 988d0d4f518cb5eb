/**
 * Where a run may write (issue 15, "a safe --out"): slimnet replaces only folders it created; everything else a
 * user names as --out or cacheDir is refused with exit 2 and one line, and nothing on disk changes.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { runCliInProcess, runCliProcess, type CliResult } from '../fixtures/cli.ts';
import { writeTinyTask } from '../fixtures/tiny-task.ts';

let template: string;
const sandboxes: string[] = [];

before(async () => {
  template = mkdtempSync(path.join(os.tmpdir(), 'slimnet-out-template-'));
  sandboxes.push(template);
  await writeTinyTask(template);
});

after(() => {
  for (const dir of sandboxes) rmSync(dir, { recursive: true, force: true });
});

/**
 * A project folder: model/, data/, src/index.ts, notes.txt, and earlier runs plus a release under artifacts/.
 * It sits one level down in its own sandbox, so even a broken slimnet given `--out ..` only reaches the sandbox.
 */
function project(): string {
  const sandbox = mkdtempSync(path.join(os.tmpdir(), 'slimnet-out-'));
  sandboxes.push(sandbox);
  const dir = path.join(sandbox, 'project');
  cpSync(template, dir, { recursive: true });
  mkdirSync(path.join(dir, 'src'));
  writeFileSync(path.join(dir, 'src/index.ts'), 'export const x = 1;\n');
  writeFileSync(path.join(dir, 'notes.txt'), 'my notes\n');
  mkdirSync(path.join(dir, 'artifacts/release-1.0'), { recursive: true });
  writeFileSync(path.join(dir, 'artifacts/release-1.0/model.tgz'), 'release bytes');
  return dir;
}

/** Every file under `dir` with the sha256 of its content: what must not change. */
function snapshot(dir: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const p = path.join(e.parentPath, e.name);
    const rel = path.relative(dir, p);
    files[rel] = e.isFile() ? createHash('sha256').update(readFileSync(p)).digest('hex') : e.isDirectory() ? 'dir' : 'other';
  }
  return files;
}

const baseArgs = ['compress', '--model', 'model/model.json', '--data', 'data', '--stages', 'export'];

function assertRefused(r: CliResult, pattern: RegExp): void {
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.errorLines.length, 1, r.stderr);
  assert.match(r.errorLines[0]!, pattern);
  assert.match(r.errorLines[0]!, /\[OUTPUT_(REFUSED|UNWRITABLE)\]$/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
}

describe('--out refusals leave every file in place', () => {
  test('--out . in a project folder (real CLI)', () => {
    const dir = project();
    const before = snapshot(dir);
    const r = runCliProcess([...baseArgs, '--out', '.'], dir);
    assertRefused(r, /--out \.: is the model's folder|--out \.: contains/);
    assert.deepEqual(snapshot(dir), before);
  });

  const cases: Array<{ name: string; out: string; expect: RegExp; setup?: (dir: string) => void }> = [
    { name: 'the model folder', out: 'model', expect: /--out model: is the model's folder/ },
    { name: 'the data folder', out: 'data', expect: /--out data: is the data folder/ },
    { name: 'a parent of earlier runs and a release (artifacts)', out: 'artifacts', expect: /--out artifacts: (contains the cache folder|is a folder slimnet did not create)/ },
    { name: 'an existing file', out: 'notes.txt', expect: /--out notes\.txt: is a file, not a folder/ },
    { name: 'a foreign folder', out: 'src', expect: /--out src: is a folder slimnet did not create \(it holds index\.ts\)/ },
    { name: 'a path below a file', out: 'notes.txt/run', expect: /--out notes\.txt\/run: is below notes\.txt, which is a file/ },
    { name: 'the parent of the project', out: '..', expect: /contains the model's folder|contains the current folder|is a folder slimnet did not create/ },
    {
      name: 'a symbolic link to a folder',
      out: 'link',
      expect: /--out link: is a symbolic link/,
      setup: (dir) => {
        mkdirSync(path.join(dir, 'elsewhere'));
        symlinkSync(path.join(dir, 'elsewhere'), path.join(dir, 'link'));
      },
    },
  ];
  for (const c of cases) {
    test(c.name, async () => {
      const dir = project();
      c.setup?.(dir);
      const before = snapshot(dir);
      const r = await runCliInProcess([...baseArgs, '--out', c.out], dir);
      assertRefused(r, c.expect);
      assert.deepEqual(snapshot(dir), before);
    });
  }

  test('--force never makes a foreign folder replaceable', async () => {
    const dir = project();
    const before = snapshot(dir);
    const r = await runCliInProcess([...baseArgs, '--out', 'src', '--force'], dir);
    assertRefused(r, /--out src: is a folder slimnet did not create/);
    assert.deepEqual(snapshot(dir), before);
  });

  test('a cacheDir that is a foreign folder or the model folder is refused', async () => {
    for (const [cacheDir, expect] of [['src', /cacheDir src: is a folder slimnet did not create/], ['model', /cacheDir model: is the model's folder/]] as const) {
      const dir = project();
      writeFileSync(path.join(dir, 'pipeline.config.ts'),
        `export default { model: 'model/model.json', data: { source: 'idx', dir: 'data' }, cacheDir: '${cacheDir}', stages: ['export'] };\n`);
      const before = snapshot(dir);
      const r = await runCliInProcess(['compress', '--out', 'artifacts/run'], dir);
      assertRefused(r, expect);
      assert.deepEqual(snapshot(dir), before);
    }
  });
});

describe('folders slimnet created', () => {
  test('are replaced by a re-run; files added to them need --force; nothing is left beside them', async () => {
    const dir = project();
    const first = await runCliInProcess([...baseArgs, '--out', 'artifacts/run1'], dir);
    assert.equal(first.code, 0, first.stderr);
    const marker = JSON.parse(readFileSync(path.join(dir, 'artifacts/run1/.slimnet.json'), 'utf8'));
    assert.equal(marker.createdBy, 'slimnet');
    assert.deepEqual(marker.entries, ['export', 'report.html', 'report.json', 'report.md']);

    const second = await runCliInProcess([...baseArgs, '--out', 'artifacts/run1'], dir);
    assert.equal(second.code, 0, second.stderr);

    writeFileSync(path.join(dir, 'artifacts/run1/my-notes.md'), 'keep me');
    const before = snapshot(dir);
    assertRefused(await runCliInProcess([...baseArgs, '--out', 'artifacts/run1'], dir), /holds files slimnet did not write there \(my-notes\.md\).*--force/);
    assert.deepEqual(snapshot(dir), before);

    const forced = await runCliInProcess([...baseArgs, '--out', 'artifacts/run1', '--force'], dir);
    assert.equal(forced.code, 0, forced.stderr);
    assert.equal(existsSync(path.join(dir, 'artifacts/run1/my-notes.md')), false);
    assert.deepEqual(readdirSync(path.join(dir, 'artifacts')).sort(), ['release-1.0', 'run1']);
    assert.equal(readFileSync(path.join(dir, 'artifacts/release-1.0/model.tgz'), 'utf8'), 'release bytes');
  });

  test('an empty folder is used', async () => {
    const dir = project();
    mkdirSync(path.join(dir, 'out'));
    const r = await runCliInProcess([...baseArgs, '--out', 'out'], dir);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(existsSync(path.join(dir, 'out/report.json')));
  });
});

describe('an unwritable --out is exit 2 naming it', () => {
  test('a read-only folder', async (t) => {
    const dir = project();
    const locked = path.join(dir, 'locked');
    mkdirSync(locked);
    const lock = lockFolder(locked);
    if (!lock) return t.skip('neither chattr +i nor chmod makes a folder read-only here');
    try {
      const r = await runCliInProcess([...baseArgs, '--out', 'locked/run'], dir);
      assertRefused(r, /--out locked\/run: is not writable/);
    } finally {
      lock();
    }
  });
});

/** Makes `dir` unwritable for this process (chmod for a normal user; root ignores modes, so chattr +i); returns the undo. */
function lockFolder(dir: string): (() => void) | undefined {
  if (process.getuid?.() !== 0) {
    chmodSync(dir, 0o555);
    return () => chmodSync(dir, 0o755);
  }
  const r = spawnSync('chattr', ['+i', dir]);
  if (r.status !== 0) return undefined;
  return () => void spawnSync('chattr', ['-i', dir]);
}

