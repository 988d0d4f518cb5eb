// Run by validators.test.ts as its own test file: one test per validator, each through needsValidator.
import { test } from 'node:test';
import { needsValidator, type ValidatorName } from './validators.ts';

for (const name of ['onnx-checker', 'tflite-runtime', 'chromium', 'h5py'] satisfies ValidatorName[]) {
  test(`needs ${name}`, (t) => {
    needsValidator(t, name);
  });
}
