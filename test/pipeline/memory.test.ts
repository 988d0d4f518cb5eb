import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { batchWithin, footprint, inferenceBatch, megabytes, trainingBatch } from '../../pipeline/memory.ts';
import { planWork } from '../../pipeline/prune/work-plan.ts';
import { buildMobileNetV2 } from '../../bench/mobilenet-v2.ts';
import { exampleCnn } from '../fixtures/models.ts';

before(async () => {
  await initEngine('wasm');
});

test('batchWithin: the largest batch that fits, never above the request, never below 1', () => {
  assert.equal(batchWithin(256, 10, 1000), 100);
  assert.equal(batchWithin(64, 10, 1e9), 64);
  assert.equal(batchWithin(64, 1e9, 10), 1);
});

test('footprint from shapes: the example CNN (largest output 26×26×32 floats)', async () => {
  const ir = await irFromTfjsModel(exampleCnn(1));
  const f = footprint(ir)!;
  assert.equal(f.largest, 26 * 26 * 32 * 4);
  assert.equal(f.input, 28 * 28 * 4);
  assert.ok(f.total > f.largest);
  assert.equal(inferenceBatch(ir, 256, megabytes(2048)), 256);
});

test('MobileNetV2 at 224×224: batches shrink with the memory budget, and fit it', async () => {
  const m = buildMobileNetV2({ alpha: 1, size: 224 });
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const f = footprint(ir)!;
  assert.ok(f.largest > 4e6 && f.total > 8e7, JSON.stringify(f)); // 112×112×96 floats; ~83 MB of outputs per image
  const [small, large] = [inferenceBatch(ir, 256, megabytes(512)), inferenceBatch(ir, 256, megabytes(4096))];
  assert.ok(small < large && large < 256, `${small} ${large}`);
  assert.ok(trainingBatch(ir, 64, megabytes(2048)) < 16);
  // The work plan: batch sizes and reconstruction memory do not depend on the concurrency asked for (so neither
  // does the result); the concurrency is what fits.
  const plans = [1, 2, 16].map((concurrency) => planWork(ir, { memoryBudgetMB: 2048, concurrency, evalBatch: 256, trainBatch: 64, calibrationSamples: 1024 }));
  for (const p of plans) {
    assert.equal(p.evalBatch, plans[0]!.evalBatch);
    assert.equal(p.reconstructBytes, plans[0]!.reconstructBytes);
    assert.equal(p.trainBatch, plans[0]!.trainBatch);
  }
  assert.equal(plans[0]!.concurrency, 1);
  assert.ok(plans[2]!.concurrency < 16, `${plans[2]!.concurrency}`);
  const lean = planWork(ir, { memoryBudgetMB: 512, concurrency: 16, evalBatch: 256, trainBatch: 64, calibrationSamples: 1024 });
  assert.ok(lean.evalBatch < plans[0]!.evalBatch && lean.trainBatch <= plans[0]!.trainBatch && lean.reconstructBytes < plans[0]!.reconstructBytes);
});
