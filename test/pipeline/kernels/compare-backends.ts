import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';

/**
 * Runs the same computation on wasm (with slimnet's kernels) and on the cpu backend (the reference) and compares
 * every output. Also checks that no tensor outlives the computation on either backend.
 */

/** Deterministic normal values (tfjs draws seeded randoms in JS, so both backends get the same numbers). */
export function seeded(shape: number[], seed: number, scale = 1): tf.Tensor {
  return tf.randomNormal(shape, 0, scale, 'float32', seed);
}

export async function runOn(backend: 'wasm' | 'cpu', compute: () => tf.Tensor[]): Promise<Float32Array[]> {
  await initEngine(backend);
  // Tensors are the engine's count; data ids are the backend's, and catch a kernel that takes a reference to a
  // buffer and never gives it back.
  const tensorsBefore = tf.memory().numTensors;
  const dataBefore = tf.engine().backend.numDataIds();
  const outputs = tf.tidy(compute);
  const values = outputs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outputs);
  assert.equal(tf.memory().numTensors, tensorsBefore, `tensors leaked on ${backend}`);
  assert.equal(tf.engine().backend.numDataIds(), dataBefore, `backend buffers leaked on ${backend}`);
  return values;
}

/** Largest |a - b| / max(1, |a|) over all outputs: absolute for small values, relative for big ones. */
export function maxRelativeDiff(reference: Float32Array[], actual: Float32Array[]): number {
  assert.equal(actual.length, reference.length, 'output count');
  let worst = 0;
  reference.forEach((ref, i) => {
    const got = actual[i]!;
    assert.equal(got.length, ref.length, `output ${i} size`);
    for (let j = 0; j < ref.length; j++) {
      const diff = Math.abs(ref[j]! - got[j]!) / Math.max(1, Math.abs(ref[j]!));
      if (!(diff <= worst)) worst = Number.isNaN(diff) ? Infinity : diff;
    }
  });
  return worst;
}

/** Asserts wasm and cpu agree to `tolerance` on every output of `compute`; returns the cpu values. */
export async function assertWasmMatchesCpu(label: string, compute: () => tf.Tensor[], tolerance = 1e-4): Promise<Float32Array[]> {
  const reference = await runOn('cpu', compute);
  const actual = await runOn('wasm', compute);
  const diff = maxRelativeDiff(reference, actual);
  assert.ok(diff <= tolerance, `${label}: wasm differs from cpu by ${diff.toExponential(2)} (> ${tolerance})`);
  // A gradient that is all zeros on both backends would prove nothing.
  assert.ok(reference.every((r) => r.some((v) => v !== 0)), `${label}: an output is all zeros`);
  return reference;
}
