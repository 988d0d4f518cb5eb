/**
 * External validators some tests need: the official ONNX checker (Debian's python3-onnx), TensorFlow's TFLite
 * runtime (the optional dependency tfjs-tflite-node), headless Chromium, and python3-h5py (Keras HDF5 fixtures).
 *
 * One rule for all of them: a test that needs one calls `needsValidator(t, name)`. Where the validator is missing,
 * the test is reported as skipped with the one command that installs it, so `npm install && npm test` passes on a
 * fresh machine; with CI=true (as .ci/run runs) a missing validator fails the test instead, so CI can never go green
 * without running them.
 *
 * SLIMNET_TEST_HIDE_VALIDATORS=onnx-checker,chromium (or `all`) makes this helper report those validators missing:
 * how the skip and CI paths are themselves tested on a machine that has everything.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { tfliteRuntime } from '../../pipeline/formats/tflite/runtime.ts';

export type ValidatorName = 'onnx-checker' | 'tflite-runtime' | 'chromium' | 'h5py';

export const ON_CI = process.env.CI === 'true' || process.env.CI === '1';

/** The one command that installs each validator on Debian/Ubuntu (what .ci/run does). */
export const INSTALL_COMMAND: Record<ValidatorName, string> = {
  'onnx-checker': 'apt-get install python3-onnx',
  'tflite-runtime': 'npm install tfjs-tflite-node (its addon builds with g++, make and python3)',
  chromium: 'apt-get install chromium',
  h5py: 'apt-get install python3-h5py',
};

export type Found = { available: true; path: string } | { available: false; reason: string };

function hidden(name: ValidatorName): boolean {
  const list = (process.env.SLIMNET_TEST_HIDE_VALIDATORS ?? '').split(',').map((s) => s.trim());
  return list.includes(name) || list.includes('all');
}

/** Interpreters tried in order, as pipeline/formats/onnx-checker.ts does: a pyenv python3 cannot see Debian's packages. */
function pythonCandidates(): string[] {
  return [...new Set([process.env.SLIMNET_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p))];
}

function pythonWith(module: string): Found {
  const tried: string[] = [];
  for (const python of pythonCandidates()) {
    const r = spawnSync(python, ['-c', `import ${module}`], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return { available: true, path: python };
    tried.push(`${python}: ${r.error ? r.error.message : (r.stderr.trim().split('\n').pop() ?? `exit ${r.status}`)}`);
  }
  return { available: false, reason: `no python3 with the ${module} package (${tried.join('; ')})` };
}

function chromium(): Found {
  const candidates = [process.env.SLIMNET_CHROMIUM, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  return found ? { available: true, path: found } : { available: false, reason: `no Chromium at ${candidates.join(', ')}` };
}

const FINDERS: Record<ValidatorName, () => Found> = {
  'onnx-checker': () => pythonWith('onnx.checker'),
  h5py: () => pythonWith('h5py'),
  chromium,
  'tflite-runtime': () => {
    const runtime = tfliteRuntime();
    return runtime.available ? { available: true, path: runtime.engine } : { available: false, reason: runtime.reason };
  },
};

const found = new Map<ValidatorName, Found>();

/** Looks the validator up once per process. */
export function findValidator(name: ValidatorName): Found {
  if (hidden(name)) return { available: false, reason: `hidden by SLIMNET_TEST_HIDE_VALIDATORS` };
  let f = found.get(name);
  if (!f) found.set(name, (f = FINDERS[name]()));
  return f;
}

/**
 * The validator's path (python interpreter, Chromium binary, runtime engine) when it is there. Otherwise the test
 * is marked skipped with the install command and undefined is returned (the test should stop or leave out the
 * checks that need it); under CI=true a missing validator fails the test.
 */
export function needsValidator(t: TestContext, name: ValidatorName): string | undefined {
  const f = findValidator(name);
  if (f.available) return f.path;
  const message = `needs ${name}: ${f.reason}; install it with: ${INSTALL_COMMAND[name]}`;
  assert.ok(!ON_CI, `CI=true: ${message}`);
  t.skip(message);
  return undefined;
}
