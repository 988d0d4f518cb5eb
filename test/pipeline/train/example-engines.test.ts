/**
 * Issue 4's correctness bar on the real example: a short fine-tune of the example CNN from the same seed reaches
 * the same accuracy (±0.3 pt) on the onnxruntime engine and on tfjs. (bench/fine-tune-parity.ts runs longer ones.)
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { buildExampleModel } from '../../../examples/mnist-cnn/model.ts';
import { loadMnistPackage } from '../../../pipeline/data/mnist-package.ts';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import { createPredictor, measureQuality } from '../../../pipeline/evaluate.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { ortFineTune } from '../../../pipeline/train/ort/ort-fine-tune.ts';
import { tfjsFineTune } from '../../../pipeline/train/tfjs-fine-tune.ts';
import type { FineTuneOptions } from '../../../pipeline/train/types.ts';

let data: { train: LabelledSet; test: LabelledSet };
let fresh: ModelIR;

before(async () => {
  await initEngine('wasm');
  data = loadMnistPackage();
  const model = buildExampleModel(11);
  fresh = await irFromTfjsModel(model);
  model.dispose();
});

async function accuracy(ir: ModelIR): Promise<number> {
  const predictor = await createPredictor(ir, 'tfjs');
  try {
    return (await measureQuality(predictor, data.test, 256)).accuracy;
  } finally {
    predictor.dispose();
  }
}

test('the example CNN fine-tuned from one seed: ORT and tfjs agree within 0.3 points', { timeout: 120_000 }, async () => {
  const opts: FineTuneOptions = { train: data.train, temperature: 1, alpha: 0, maxSamples: 4096, batchSize: 64, learningRate: 1e-3, optimizer: 'adam', seed: 7 };
  const ort = await ortFineTune(fresh, opts);
  const tfjs = await tfjsFineTune(fresh, opts);
  assert.equal(ort.engine, 'ort');
  assert.match(tfjs.engine, /^tfjs-/);
  assert.equal(ort.samples, 4096);
  assert.equal(tfjs.samples, 4096);
  const [a, b] = [await accuracy(ort.ir), await accuracy(tfjs.ir)];
  assert.ok(a > 0.85 && b > 0.85, `training must have worked: ORT ${a}, tfjs ${b}`);
  assert.ok(Math.abs(a - b) <= 0.003, `ORT ${(a * 100).toFixed(2)}% vs tfjs ${(b * 100).toFixed(2)}%`);
});
