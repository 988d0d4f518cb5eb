import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../pipeline/config.ts';
import { runPipeline } from '../../pipeline/runner.ts';
import { writeTinyTask } from '../fixtures/tiny-task.ts';

test('a config validated directly (library use, no loadConfig) writes to artifacts/<model folder> under the cwd', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-runner-'));
  const task = await writeTinyTask(dir);
  const config = validateConfig({ model: task.modelJson, data: { source: 'idx', dir: task.dataDir }, stages: ['export'], cacheDir: false }, 'test');
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const result = await runPipeline(config);
    assert.equal(result.exitCode, 0);
    assert.equal(result.outDir, path.join(dir, 'artifacts', 'model'));
    assert.ok(existsSync(path.join(dir, 'artifacts', 'model', 'report.json')));
    assert.deepEqual(readdirSync(path.join(dir, 'artifacts')), ['model']);
  } finally {
    process.chdir(cwd);
  }
});
