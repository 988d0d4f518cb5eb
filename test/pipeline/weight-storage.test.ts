/** Weight storage: encode/decode/re-encode/slice keep `values` exactly what the stored codes decode to. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { cloneIR, type WeightIR } from '../../pipeline/ir.ts';
import { createRng } from '../../pipeline/random.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { sequentialCnn } from '../fixtures/models.ts';
import {
  checkStorage, decodeStorage, describeStorage, quantizeModel, quantizeWeight, sliceWeight, storageSpec, storedBytes, withValues, type StorageSpec,
} from '../../pipeline/weight-storage.ts';

function randomWeight(shape: number[], seed: number, spread = 1): WeightIR {
  const rng = createRng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  // Channels of very different ranges, so per-channel scales matter.
  const last = shape.at(-1)!;
  return { name: 'kernel', shape, values: Float32Array.from({ length: n }, (_, i) => (rng.next() * 2 - 1) * spread * (1 + (i % last))) };
}

const SPECS: StorageSpec[] = [
  { dtype: 'float16' },
  { dtype: 'uint8' },
  { dtype: 'uint16' },
  { dtype: 'int8', symmetric: true },
  { dtype: 'int8', symmetric: false },
  { dtype: 'int8', symmetric: true, axis: 3 },
  { dtype: 'int8', symmetric: false, axis: 3 },
  { dtype: 'int8', symmetric: true, axis: 2 },
];

describe('every storage', () => {
  for (const spec of SPECS) {
    test(describeStorage(spec), () => {
      const w = randomWeight([3, 3, 4, 5], 1);
      const q = quantizeWeight(w, spec);
      assert.deepEqual(storageSpec(q), spec);
      assert.deepEqual(q.values, decodeStorage(q.storage!, q.shape), 'values are the decoded codes');
      checkStorage(q, 'w');
      // Close to the float values: at most half a step of the coarsest grid.
      const range = Math.max(...w.values.map(Math.abs));
      const step = spec.dtype === 'uint16' ? (2 * range) / 65535 : spec.dtype === 'float16' ? range / 1024 : (2 * range) / 254;
      for (let i = 0; i < w.values.length; i++) assert.ok(Math.abs(q.values[i]! - w.values[i]!) <= step * 0.51, `${i}: ${w.values[i]} → ${q.values[i]}`);
      // Re-encoding what shipped is idempotent: the same codes, the same values.
      const again = withValues(q, q.values);
      assert.deepEqual(again.storage, q.storage);
      assert.deepEqual(again.values, q.values);
      assert.equal(storedBytes(q), w.values.length * (spec.dtype === 'uint8' || spec.dtype === 'int8' ? 1 : 2));
    });
  }
});

test('int8 keeps zero exact and follows its symmetry: symmetric codes in −127..127 with zero points 0', () => {
  const w = randomWeight([2, 6], 3);
  w.values[0] = 0;
  const sym = quantizeWeight(w, { dtype: 'int8', symmetric: true, axis: 1 });
  assert.equal(sym.values[0], 0);
  assert.ok(sym.storage?.dtype === 'int8' && sym.storage.zeroPoints.every((z) => z === 0) && sym.storage.codes.every((c) => c >= -127));
  assert.ok(sym.storage.scales.every((s) => s === Math.fround(s)), 'scales are float32');
  const asym = quantizeWeight({ ...w, values: w.values.map((v) => Math.abs(v)) }, { dtype: 'int8', symmetric: false });
  assert.ok(asym.storage?.dtype === 'int8' && asym.storage.zeroPoints[0] === -128, 'a non-negative tensor uses the full code range');
  // reduceRange: 7-bit codes spanning −63..63 per channel, each value within half a (doubled) step.
  const seven = quantizeWeight(w, { dtype: 'int8', symmetric: true, axis: 1, reduceRange: true });
  assert.ok(seven.storage?.dtype === 'int8');
  const codes = [...seven.storage.codes];
  assert.equal(Math.max(...codes.map(Math.abs)), 63);
  assert.ok(seven.storage.scales.every((s, c) => Math.abs(s - 2 * (sym.storage as { scales: number[] }).scales[c]! * 127 / 126) < 1e-6 * s), 'scale = range / 63');
  for (let i = 0; i < w.values.length; i++) assert.ok(Math.abs(seven.values[i]! - w.values[i]!) <= seven.storage.scales[i % 6]! * 0.51);
});

test('withValues re-encodes new values in the existing storage: a uint8 weight stays uint8, on its new grid', () => {
  const q = quantizeWeight(randomWeight([4, 8], 4), { dtype: 'uint8' });
  const refit = withValues(q, q.values.map((v) => v * 1.5 + 0.01));
  assert.equal(refit.storage?.dtype, 'uint8');
  assert.ok(new Set(refit.values).size <= 256);
  checkStorage(refit, 'refit');
  const float = withValues(randomWeight([4, 8], 4), new Float32Array(32).fill(0.3));
  assert.equal(float.storage, undefined, 'a float32 weight stays float32');
  assert.equal(float.values[0], Math.fround(0.3));
});

test('sliceWeight slices codes with values; a per-channel int8 weight sliced on its axis keeps those channels\' scales', () => {
  const q = quantizeWeight(randomWeight([3, 3, 4, 5], 5), { dtype: 'int8', symmetric: true, axis: 3 });
  const onAxis = sliceWeight(q, 3, [0, 2, 4]);
  assert.deepEqual(onAxis.shape, [3, 3, 4, 3]);
  assert.ok(onAxis.storage?.dtype === 'int8' && q.storage?.dtype === 'int8');
  assert.deepEqual(onAxis.storage.scales, [q.storage.scales[0], q.storage.scales[2], q.storage.scales[4]]);
  checkStorage(onAxis, 'sliced on its axis');
  const across = sliceWeight(q, 2, [1, 3]);
  assert.ok(across.storage?.dtype === 'int8');
  assert.deepEqual(across.storage.scales, q.storage.scales);
  checkStorage(across, 'sliced across its axis');
  for (const spec of [{ dtype: 'uint8' }, { dtype: 'float16' }] as const) {
    const s = sliceWeight(quantizeWeight(randomWeight([6, 4], 6), spec), 0, [1, 5]);
    assert.equal(s.storage?.dtype, spec.dtype);
    checkStorage(s, spec.dtype);
  }
});

test('checkStorage catches values changed behind the storage\'s back; cloneIR copies codes', async () => {
  const q = quantizeWeight(randomWeight([4, 4], 7), { dtype: 'uint8' });
  const stale = { ...q, values: q.values.map((v) => v + 1e-3) };
  assert.throws(() => checkStorage(stale, 'layer/kernel'), /layer\/kernel: values\[0\].*withValues/);
  await initEngine('wasm');
  const ir = quantizeModel(await irFromTfjsModel(sequentialCnn()), { dtype: 'int8', symmetric: true, axis: 0 });
  const copy = cloneIR(ir);
  assert.deepEqual(copy, ir);
  const [original, copied] = [ir.layers[1]!.weights[0]!, copy.layers[1]!.weights[0]!];
  assert.notEqual(copied.storage!.codes, original.storage!.codes);
});
