import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { LabelledSet } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { createPredictor, measureQuality, predictSet, type Predictor } from '../../pipeline/evaluate.ts';
import { tinyModelIR } from '../fixtures/tiny-task.ts';
import { cloneIR } from '../../pipeline/ir.ts';
import type { Metrics } from '../../pipeline/metrics.ts';
import { createStageContext } from '../../pipeline/stage-context.ts';
import { layer } from '../fixtures/ir.ts';

before(async () => {
  await initEngine('wasm');
});

/** A predictor that returns fixed rows, so accuracy and loss can be computed by hand. */
function fixed(rows: number[][]): Predictor {
  let next = 0;
  return {
    engine: 'fixed',
    async predict(_x, count) {
      const out = rows.slice(next, next + count).flat();
      next += count;
      return Float32Array.from(out);
    },
    dispose() {},
  };
}

const set = (labels: number[]): LabelledSet => ({
  x: new Float32Array(labels.length),
  y: Int32Array.from(labels),
  count: labels.length,
  sampleShape: [1],
  numClasses: 2,
});

test('accuracy and cross-entropy from probabilities, across batch boundaries', async () => {
  const r = await measureQuality(fixed([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4]]), set([0, 1, 1]), 2);
  assert.equal(r.accuracy, 2 / 3);
  const expected = -(Math.log(0.9) + Math.log(0.8) + Math.log(0.4)) / 3;
  assert.ok(Math.abs(r.loss - expected) < 1e-6, `${r.loss} vs ${expected}`);
});

test('logits are softmaxed before the loss', async () => {
  const r = await measureQuality(fixed([[2, 0], [-1, 3]]), set([0, 1]), 8);
  const p0 = Math.exp(2) / (Math.exp(2) + 1);
  const p1 = Math.exp(3) / (Math.exp(3) + Math.exp(-1));
  assert.equal(r.accuracy, 1);
  assert.ok(Math.abs(r.loss - -(Math.log(p0) + Math.log(p1)) / 2) < 1e-6);
});

test('predictSet keeps sample order across batches', async () => {
  const out = await predictSet(fixed([[1, 0], [0, 1], [1, 1]]), set([0, 0, 0]), 2);
  assert.deepEqual([...out], [1, 0, 0, 1, 1, 1]);
});

test('ORT and tfjs predictors agree on the same IR; auto falls back to tfjs for layers ONNX does not cover', async () => {
  const ir = tinyModelIR();
  const x = Float32Array.from({ length: 4 * 36 }, (_, i) => (i * 37) % 11 / 10);
  const ort = await createPredictor(ir, 'ort');
  const tfjs = await createPredictor(ir, 'tfjs');
  assert.equal(ort.engine, 'onnxruntime-node');
  const a = await ort.predict(x, 4, [6, 6, 1]);
  const b = await tfjs.predict(x, 4, [6, 6, 1]);
  ort.dispose();
  tfjs.dispose();
  for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i]! - b[i]!) < 1e-5);

  ir.layers.splice(1, 0, layer('prelu', 'PReLU', ['input'], {}, [{ name: 'alpha', shape: [6, 6, 1], values: new Float32Array(36).fill(1) }]));
  ir.layers.find((l) => l.name === 'flatten')!.inputs = ['prelu'];
  const fallback = await createPredictor(ir, 'auto');
  assert.match(fallback.engine, /^tfjs/);
  fallback.dispose();
  await assert.rejects(createPredictor(ir, 'ort'), /PReLU/);
});

test('the stage context measures candidates of one reference together: through a shared prefix on onnxruntime, whole on tfjs for layers ONNX does not cover', async () => {
  const x = Float32Array.from({ length: 12 * 36 }, (_, i) => ((i * 37) % 11) / 10);
  const data = { x, y: Int32Array.from({ length: 12 }, (_, i) => i % 3), count: 12, sampleShape: [6, 6, 1], numClasses: 3 };
  const splits = { train: data, validation: data, test: data, fingerprint: 'test', describe: {} };
  const baseline = { valAccuracy: 1, testAccuracy: 1, loss: 0, params: 0, macs: 0, bytes: 0 } as Metrics;
  const ctx = createStageContext({ data: splits, seed: 1, stageDir: '.', baseline, budget: { maxDrop: 0 }, evaluation: { engine: 'auto', batchSize: 5 } });
  for (const withPrelu of [false, true]) {
    const ir = tinyModelIR();
    if (withPrelu) {
      ir.layers.splice(1, 0, layer('prelu', 'PReLU', ['input'], {}, [{ name: 'alpha', shape: [6, 6, 1], values: new Float32Array(36).fill(1) }]));
      ir.layers.find((l) => l.name === 'flatten')!.inputs = ['prelu'];
    }
    const changed = cloneIR(ir);
    changed.layers.at(-1)!.weights[0]!.values.reverse();
    const candidates = [changed, cloneIR(ir)];
    const { results, reuse } = await ctx.evaluateCandidates(ir, candidates);
    assert.deepEqual(results, await Promise.all(candidates.map((c) => ctx.evaluateCandidate(c))));
    // The PReLU model cannot export: each candidate ran whole on tfjs, and nothing was shared.
    assert.equal(reuse === undefined, withPrelu);
    if (reuse) assert.equal(reuse.suffixOnly, 1);
  }
});
