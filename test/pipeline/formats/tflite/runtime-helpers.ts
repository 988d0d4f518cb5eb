/**
 * Tests that need the real TFLite runtime (the optional tfjs-tflite-node): skipped with the reason where it is not
 * installed, but mandatory under CI (CI=true), where .ci/run installs what its addon needs to build.
 */
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { tfliteRuntime } from '../../../../pipeline/formats/tflite/runtime.ts';

export const ON_CI = process.env.CI === 'true' || process.env.CI === '1';

/** True when the runtime loads; otherwise skips the test (fails it under CI). */
export function needsTfliteRuntime(t: TestContext): boolean {
  const runtime = tfliteRuntime();
  if (runtime.available) return true;
  assert.ok(!ON_CI, `CI must run the TFLite runtime: ${runtime.reason}`);
  t.skip(runtime.reason);
  return false;
}
