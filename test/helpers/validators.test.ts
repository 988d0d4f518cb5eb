/**
 * The validator rule itself: a missing validator is a skip that names its install command, and a failure under
 * CI=true. Validators are hidden with SLIMNET_TEST_HIDE_VALIDATORS, so this runs the same on any machine.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { INSTALL_COMMAND } from './validators.ts';

const FIXTURE = fileURLToPath(new URL('./needs-validators.fixture.ts', import.meta.url));

function runFixture(env: Record<string, string>) {
  // NODE_TEST_CONTEXT would make the child think it is nested in this runner and run nothing.
  const { CI: _ci, NODE_TEST_CONTEXT: _ctx, ...rest } = process.env;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--test-reporter=tap', FIXTURE], {
    encoding: 'utf8', env: { ...rest, SLIMNET_TEST_HIDE_VALIDATORS: 'all', ...env },
  });
  return { status: r.status, out: r.stdout + r.stderr };
}

test('hidden validators are skipped with their install command; the run passes', () => {
  const { status, out } = runFixture({});
  assert.equal(status, 0, out);
  assert.match(out, /# skipped 4/);
  for (const command of Object.values(INSTALL_COMMAND)) assert.ok(out.includes(`install it with: ${command}`), `${command}\n${out}`);
});

test('under CI=true a missing validator fails the run', () => {
  const { status, out } = runFixture({ CI: 'true' });
  assert.equal(status, 1, out);
  assert.match(out, /# fail 4/);
  assert.match(out, /CI=true: needs onnx-checker/);
});
