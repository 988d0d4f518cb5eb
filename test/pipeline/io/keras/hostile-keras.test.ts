/**
 * Hostile Keras files (issue 15): a file that sends libhdf5 into an endless loop is cut off by the bounded read
 * and refused in one line; members that are FIFOs or folders are refused without blocking.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { SlimnetError } from '../../../../pipeline/errors.ts';
import { READ_TIMEOUT_ENV } from '../../../../pipeline/io/keras/bounded-read.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { keras2Config, keras3Config, makeWeights, MLP, TINY_CNN } from '../../../fixtures/keras/spec.ts';
import { keras3WeightsH5, legacyH5 } from '../../../fixtures/keras/write.ts';

const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-hostile-keras-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function refusal(file: string): Promise<SlimnetError> {
  const error = await loadModel(file).then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof SlimnetError, `expected a SlimnetError, got ${error instanceof Error ? error.stack : String(error)}`);
  assert.ok(!error.oneLine().includes('\n'));
  return error;
}

// TINY_CNN is the fuzz test's .h5 base; seed 2's case 57 zeroed 23 bytes of it at offset 4510.
const CNN = TINY_CNN;

test('an .h5 that sends libhdf5 into an endless loop is refused in one line once the read limit passes', { timeout: 60_000 }, async () => {
  const bytes = await legacyH5(CNN, makeWeights(CNN, 7), 'keras2', { config: keras2Config(CNN) });
  bytes.fill(0, 4510, 4510 + 23);
  const file = path.join(dir, 'loop.h5');
  writeFileSync(file, bytes);
  const previous = process.env[READ_TIMEOUT_ENV];
  process.env[READ_TIMEOUT_ENV] = '2000';
  try {
    const started = performance.now();
    const error = await refusal(file);
    const ms = performance.now() - started;
    assert.equal(error.code, 'MODEL_INVALID');
    assert.equal(error.where, file);
    assert.match(error.message, /did not finish within 2 s/);
    process.stderr.write(`# refused after ${ms.toFixed(0)} ms\n`);
  } finally {
    if (previous === undefined) delete process.env[READ_TIMEOUT_ENV];
    else process.env[READ_TIMEOUT_ENV] = previous;
  }
});

test('a sound .h5 reads through the bounded reader with every weight', async () => {
  const weights = makeWeights(CNN, 7);
  const file = path.join(dir, 'sound.h5');
  writeFileSync(file, await legacyH5(CNN, weights, 'keras2'));
  const { ir, format } = await loadModel(file);
  assert.equal(format, 'keras-h5');
  assert.deepEqual(ir.layers.find((l) => l.name === 'dense')!.weights[0]!.values, weights.get('dense')![0]!.values);
});

test('an unzipped .keras whose model.weights.h5 is a FIFO or a folder is refused without blocking', { timeout: 20_000 }, async () => {
  for (const kind of ['fifo', 'folder'] as const) {
    const folder = path.join(dir, `unzipped-${kind}`);
    mkdirSync(folder);
    writeFileSync(path.join(folder, 'config.json'), JSON.stringify(keras3Config(MLP)));
    const weights = path.join(folder, 'model.weights.h5');
    if (kind === 'fifo') execFileSync('mkfifo', [weights]);
    else mkdirSync(weights);
    const error = await refusal(folder);
    assert.equal(error.code, 'MODEL_INVALID');
    assert.match(error.oneLine(), kind === 'fifo' ? /model\.weights\.h5: .*is a FIFO/ : /model\.weights\.h5: .*is a folder/);
  }
  // The same folder with a real weights file reads.
  const sound = path.join(dir, 'unzipped-sound');
  mkdirSync(sound);
  writeFileSync(path.join(sound, 'config.json'), JSON.stringify(keras3Config(MLP)));
  writeFileSync(path.join(sound, 'model.weights.h5'), await keras3WeightsH5(MLP, makeWeights(MLP)));
  assert.equal((await loadModel(sound)).format, 'keras-folder');
});
