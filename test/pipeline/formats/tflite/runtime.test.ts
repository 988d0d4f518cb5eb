/** The real TFLite runtime (tfjs-tflite-node's libtensorflowlite_c) loads a written model and computes with it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { serializeTflite } from '../../../../pipeline/formats/tflite/serialize.ts';
import { loadTfliteRuntime, tflitePredictor } from '../../../../pipeline/formats/tflite/runtime.ts';
import { needsValidator } from '../../../helpers/validators.ts';
import { fullyConnectedSpec } from './specs.ts';

const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));
/** Abramowitz–Stegun 7.1.26 (|error| < 1.5e-7): enough for a 1e-5 check. */
function erf(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y = 1 - ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-x * x);
  return Math.sign(x) * y;
}

test('the runtime loads a written model and runs it sample by sample', async (t) => {
  if (!needsValidator(t, 'tflite-runtime')) return;
  const predictor = tflitePredictor(serializeTflite(fullyConnectedSpec()));
  assert.match(predictor.engine, /^tflite \(tfjs-tflite-node /);
  const y = await predictor.predict(Float32Array.of(1, 1, 1, 2, 0, -1), 2, [3]);
  // relu([1,1,1]·[1,2,3] + 0.5, [1,1,1]·[4,5,6] − 100) = [6.5, 0]; [2,0,−1] → [−0.5 → 0, 8 − 6 − 100 → 0]
  const expected = [6.5, 0, 0, 0].map(gelu);
  assert.equal(y.length, 4);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(y[i]! - expected[i]!) < 1e-5, `output ${i}: ${y[i]} vs ${expected[i]}`);
  predictor.dispose();
});

test('the runtime refuses a damaged model with an error, not a crash', (t) => {
  if (!needsValidator(t, 'tflite-runtime')) return;
  const bytes = serializeTflite(fullyConnectedSpec());
  assert.throws(() => tflitePredictor(bytes.subarray(0, bytes.length >> 1)), /the TFLite runtime rejected the model/);
});

test('a runtime package that is not installed is reported with what to do, not thrown', () => {
  const runtime = loadTfliteRuntime('tfjs-tflite-node-not-installed');
  assert.equal(runtime.available, false);
  assert.match(runtime.available ? '' : runtime.reason, /tfjs-tflite-node-not-installed is not installed \(it is an optional dependency: npm install /);
});
