import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { cloneIR } from '../../../pipeline/ir.ts';
import { exactEncoding } from '../../../pipeline/io/exact-encoding.ts';
import { readModel } from '../../../pipeline/io/read-model.ts';
import { fileLoadHandler } from '../../../pipeline/io/tfjs-file-handler.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { decodeEntry, roundTripValues } from '../../../pipeline/io/weights.ts';
import { writeModel } from '../../../pipeline/io/write-model.ts';
import { quantizeModel } from '../../../pipeline/weight-storage.ts';
import { createRng } from '../../../pipeline/random.ts';
import { functionalResidual, predictFlat, randomInputs } from '../../fixtures/models.ts';

let root: string;
before(async () => {
  await initEngine('wasm');
  root = await mkdtemp(join(tmpdir(), 'slimnet-exact-'));
});
after(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Seeded tensors over ranges that straddle zero, lie on one side, are tiny or large. */
function tensors(count: number): Float32Array[] {
  return Array.from({ length: count }, (_, s) => {
    const r = createRng(s);
    const n = 2 + r.int(s % 10 === 0 ? 20000 : 400);
    const lo = -r.next() * 3 * (s % 5 === 0 ? 0.001 : 1);
    const hi = r.next() * 3 * (s % 3 === 0 ? -1 : 1) * (s % 7 === 0 ? 1000 : 1);
    return Float32Array.from({ length: n }, () => lo + (hi - lo) * r.next());
  });
}

describe('exactEncoding recovers the grid of already-quantised values', () => {
  for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
    test(`${dtype}: decode(exactEncoding(roundTrip(x))) = roundTrip(x) bit for bit`, () => {
      for (const [i, x] of tensors(150).entries()) {
        const measured = roundTripValues(x, dtype);
        const enc = exactEncoding(measured, dtype);
        assert.ok(enc, `tensor #${i}: no exact encoding found`);
        const decoded = decodeEntry({ name: 'w', shape: [x.length], dtype: 'float32', quantization: enc.quantization }, enc.bytes);
        assert.deepEqual(decoded, measured, `tensor #${i}`);
      }
    });
  }

  test('roundTripValues is idempotent: what tfjs decoded encodes to itself', () => {
    for (const dtype of ['uint8', 'uint16', 'float16'] as const) {
      for (const [i, x] of tensors(40).entries()) {
        const once = roundTripValues(x, dtype);
        assert.deepEqual(roundTripValues(once, dtype), once, `${dtype} tensor #${i}`);
      }
    }
    // Two distinct values always lie on a grid, so they are stored losslessly.
    assert.deepEqual(roundTripValues(Float32Array.of(-0.384, 0.387), 'uint8'), Float32Array.of(-0.384, 0.387));
  });

  test('fresh float weights are not on a grid', () => {
    const x = tensors(1)[0].slice(0, 300);
    for (const dtype of ['uint8', 'uint16', 'float16'] as const) assert.equal(exactEncoding(x, dtype), undefined, dtype);
  });
});

describe('storing a dequantised IR ships exactly the measured weights', () => {
  test('quantising values already on a uint8 grid keeps them bit for bit, and stock tfjs predicts what the IR predicts', async () => {
    const original = functionalResidual();
    const float = await irFromTfjsModel(original);
    // Values stock tfjs decoded from a uint8 file, held without their storage (e.g. from another tool).
    const measured = cloneIR(float);
    for (const l of measured.layers) for (const w of l.weights) w.values = roundTripValues(w.values, 'uint8');
    const stored = quantizeModel(measured, { dtype: 'uint8' });
    for (const [li, l] of stored.layers.entries()) for (const [wi, w] of l.weights.entries()) assert.deepEqual(w.values, measured.layers[li]!.weights[wi]!.values);
    const { modelJsonPath } = await writeModel(stored, join(root, 'requant'));
    assert.deepEqual(await readModel(modelJsonPath), stored);
    const stock = await tf.loadLayersModel(fileLoadHandler(modelJsonPath));
    const fromIr = await buildTfjsModel(measured);
    const inputs = randomInputs(original);
    assert.deepEqual(await predictFlat(stock, inputs), await predictFlat(fromIr, inputs));
    tf.dispose(inputs);
    for (const m of [original, stock, fromIr]) m.dispose();
  });
});
