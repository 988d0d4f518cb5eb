import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { initEngine } from '../../../pipeline/engine.ts';
import { before, describe, test } from 'node:test';
import { createRng } from '../../../pipeline/random.ts';
import {
  decodeEntry,
  encodeValues,
  entryByteLength,
  float16BitsToFloat32,
  float32ToFloat16Bits,
  quantizeAffine,
  roundTripValues,
  type ManifestEntry,
} from '../../../pipeline/io/weights.ts';

before(async () => {
  await initEngine('wasm');
});

function randomValues(n: number, lo: number, hi: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => lo + (hi - lo) * rng.next());
}

/** What stock tfjs decodes for these manifest bytes. */
async function tfjsDecode(entry: ManifestEntry, bytes: Uint8Array): Promise<Float32Array> {
  const map = tf.io.decodeWeights(bytes.slice().buffer, [entry as tf.io.WeightsManifestEntry]);
  const values = (await map[entry.name].data()) as Float32Array;
  tf.dispose(Object.values(map));
  return values;
}

describe('float16', () => {
  test('decoding matches tfjs bit for bit on all 65536 patterns', async () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const bytes = new Uint8Array(all.buffer);
    const entry: ManifestEntry = { name: 'w', shape: [65536], dtype: 'float32', quantization: { dtype: 'float16' } };
    const ours = new Uint32Array(decodeEntry(entry, bytes).buffer);
    const theirs = new Uint32Array((await tfjsDecode(entry, bytes)).buffer);
    assert.deepEqual(ours, theirs);
  });

  test('encode(decode(h)) = h for every finite half value', () => {
    const finite = Uint16Array.from({ length: 65536 }, (_, i) => i).filter((h) => ((h >> 10) & 0x1f) !== 0x1f);
    assert.deepEqual(float32ToFloat16Bits(float16BitsToFloat32(finite)), finite);
  });

  test('rounds to nearest, ties to even; relative error <= 2^-11 in the normal range; clamps overflow', () => {
    const tie = float32ToFloat16Bits(Float32Array.of(1 + 2 ** -11, 1 + 3 * 2 ** -11, 70000, -1e9));
    assert.deepEqual(Array.from(float16BitsToFloat32(tie)), [1, 1 + 2 ** -9, 65504, -65504]);
    const x = randomValues(5000, -100, 100, 3).filter((v) => Math.abs(v) > 2 ** -14);
    const y = roundTripValues(x, 'float16');
    for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - x[i]) <= Math.abs(x[i]) * 2 ** -11, `${x[i]} -> ${y[i]}`);
  });
});

describe('affine uint8/uint16 (tensorflowjs_converter scheme)', () => {
  test('hand-computed example: zero point nudged, ties to even', () => {
    // scale = 3/255; zero point round(1/scale) = 85 -> min = -1; 1.5/scale = 127.5 -> 128 (even).
    const { q, scale, min } = quantizeAffine(Float32Array.of(-1, 0, 0.5, 2), 'uint8');
    assert.deepEqual(Array.from(q), [0, 85, 128, 255]);
    assert.equal(scale, 3 / 255);
    assert.equal(min, -85 * (3 / 255));
  });

  for (const dtype of ['uint8', 'uint16'] as const) {
    test(`${dtype}: error <= scale/2, zero exact, tfjs decodes the same values`, async () => {
      const x = randomValues(3000, -0.7, 1.3, 5);
      x[17] = 0;
      const { bytes, quantization } = encodeValues(x, dtype);
      const entry: ManifestEntry = { name: 'w', shape: [x.length], dtype: 'float32', quantization };
      assert.equal(entryByteLength(entry), x.length * (dtype === 'uint8' ? 1 : 2));
      const y = decodeEntry(entry, bytes);
      const half = quantization!.scale! / 2;
      for (let i = 0; i < x.length; i++) assert.ok(Math.abs(y[i] - x[i]) <= half * (1 + 1e-6) + 1e-7, `${x[i]} -> ${y[i]}`);
      assert.equal(y[17], 0);
      assert.deepEqual(y, await tfjsDecode(entry, bytes));
    });
  }

  test('all-positive ranges are not nudged; constants are exact', () => {
    const pos = Float32Array.of(0.5, 1, 2.5);
    const { scale, min } = quantizeAffine(pos, 'uint8');
    assert.equal(min, 0.5);
    assert.equal(scale, 2 / 255);
    assert.deepEqual(roundTripValues(pos, 'uint8'), Float32Array.of(0.5, 0.5 + 2 / 255 * 64, 2.5));
    assert.deepEqual(roundTripValues(Float32Array.of(0.3, 0.3), 'uint16'), Float32Array.of(0.3, 0.3));
  });
});

describe('plain dtypes and bad entries', () => {
  test('float32 round trip is exact and int32 decodes to floats', () => {
    const x = randomValues(100, -5, 5, 9);
    assert.deepEqual(roundTripValues(x), x);
    const ints = Int32Array.of(-3, 0, 7);
    const entry: ManifestEntry = { name: 'i', shape: [3], dtype: 'int32' };
    assert.deepEqual(decodeEntry(entry, new Uint8Array(ints.buffer)), Float32Array.of(-3, 0, 7));
  });

  test('unsupported dtypes and incomplete quantisation metadata are reported', () => {
    assert.match(String(entryByteLength({ name: 's', shape: [1], dtype: 'string' })), /not supported/);
    assert.match(String(entryByteLength({ name: 'q', shape: [1], dtype: 'float32', quantization: { dtype: 'uint8' } })), /scale/);
    assert.match(String(entryByteLength({ name: 'q', shape: [1], dtype: 'float32', quantization: { dtype: 'int4' as 'uint8' } })), /unknown/);
  });
});
