import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { validateConfig, type ResolvedConfig } from '../../pipeline/config.ts';
import { loadData } from '../../pipeline/data/load-data.ts';
import type { DataSplits } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { evaluateModel } from '../../pipeline/evaluate.ts';
import { cloneIR, getWeight, type ModelIR } from '../../pipeline/ir.ts';
import type { Metrics } from '../../pipeline/metrics.ts';
import { runStage, type StageRunContext } from '../../pipeline/run-stage.ts';
import type { Stage, StageOutput } from '../../pipeline/stage.ts';
import { tinyModelIR, writeTinyTask } from '../fixtures/tiny-task.ts';

let rc: StageRunContext;
/** The whole budget for the stage under test. */
const WHOLE = { share: 1, cumulative: 1 };
let input: { ir: ModelIR; metrics: Metrics };

before(async () => {
  await initEngine('wasm');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-stage-'));
  const task = await writeTinyTask(dir);
  const config: ResolvedConfig = {
    ...validateConfig({ model: task.modelJson, data: { source: 'idx', dir: task.dataDir }, stages: [], cacheDir: false }, 'test'),
    out: path.join(dir, 'out'),
  };
  const ir = tinyModelIR();
  const data: DataSplits = await loadData(config.data, { validationFraction: 0.2, seed: 1, inputShape: [6, 6, 1] });
  const metrics: Metrics = { ...(await evaluateModel(ir, data, config.evaluation)), bytes: 1 };
  rc = { config, data, backend: 'wasm', baseline: metrics, runDir: path.join(dir, 'run'), log: () => {} };
  input = { ir, metrics };
});

/** A stage that applies `edit` to a copy of the IR. */
function stage(edit: (ir: ModelIR) => void): Stage {
  return {
    name: 'prune',
    async run(ir): Promise<StageOutput> {
      const out = cloneIR(ir);
      edit(out);
      return { ir: out, notes: ['edited'] };
    },
  };
}

/** Swaps the kernel's class columns: the model now predicts the wrong class for every sample. */
function breakModel(ir: ModelIR): void {
  const kernel = getWeight(ir.layers.find((l) => l.name === 'dense')!, 'kernel')!;
  const classes = kernel.shape[1]!;
  const copy = kernel.values.slice();
  for (let i = 0; i < kernel.values.length; i++) {
    const row = Math.floor(i / classes);
    kernel.values[i] = copy[row * classes + ((i % classes) + 1) % classes]!;
  }
}

test('the baseline solves the tiny task', () => {
  assert.ok(input.metrics.valAccuracy > 0.95, String(input.metrics.valAccuracy));
});

test('a stage within budget is accepted and its model handed on', async () => {
  const tensorsBefore = tf.memory().numTensors;
  const r = await runStage({ stage: stage(() => {}), options: {}, onBudgetMiss: 'reject', budget: WHOLE }, input, rc);
  assert.equal(r.report.status, 'accepted');
  assert.equal(r.report.metrics!.valAccuracy, input.metrics.valAccuracy);
  assert.equal(r.report.artifacts.model, 'prune/model/model.json');
  assert.notEqual(r.ir, input.ir);
  assert.equal(tf.memory().numTensors, tensorsBefore, 'tensors leaked by evaluation');
});

test('a stage over budget is rejected and its input handed on', async () => {
  const r = await runStage({ stage: stage(breakModel), options: {}, onBudgetMiss: 'reject', budget: WHOLE }, input, rc);
  assert.equal(r.report.status, 'rejected');
  assert.match(r.report.reason!, /below the budget floor/);
  assert.ok(r.report.metrics!.valAccuracy < 0.5);
  assert.equal(r.ir, input.ir);
  assert.equal(r.metrics, input.metrics);
  assert.equal(r.exitClass, 0);
});

test("onBudgetMiss 'fail' marks the run failed", async () => {
  const r = await runStage({ stage: stage(breakModel), options: {}, onBudgetMiss: 'fail', budget: WHOLE }, input, rc);
  assert.equal(r.report.status, 'rejected');
  assert.equal(r.exitClass, 1);
});

test('maxAccuracyDrop decides: a loose budget accepts the same broken model', async () => {
  const loose = { ...rc, config: { ...rc.config, budget: { maxAccuracyDrop: 1 } } };
  const r = await runStage({ stage: stage(breakModel), options: {}, onBudgetMiss: 'fail', budget: WHOLE }, input, loose);
  assert.equal(r.report.status, 'accepted');
});

test('a user-fixable stage error becomes a failed entry; a bug propagates', async () => {
  const failing: Stage = {
    name: 'export',
    run: async () => {
      throw new SlimnetError('LAYER_UNSUPPORTED', 'layer "x"', 'not supported');
    },
  };
  const r = await runStage({ stage: failing, options: {}, onBudgetMiss: 'reject', budget: WHOLE }, input, rc);
  assert.equal(r.report.status, 'failed');
  assert.match(r.report.reason!, /layer "x": not supported/);
  assert.equal(r.exitClass, 2);
  assert.match(r.failure!, /^export: layer "x": not supported \[LAYER_UNSUPPORTED\]/);
  const buggy: Stage = { name: 'export', run: async () => { throw new TypeError('oops'); } };
  await assert.rejects(runStage({ stage: buggy, options: {}, onBudgetMiss: 'reject', budget: WHOLE }, input, rc), TypeError);
});

test('a failed verdict keeps the stage\'s details and files, sets its exit class, and is not cached', async () => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-stage-cache-'));
  const cachedRc = { ...rc, config: { ...rc.config, cacheDir } };
  let runs = 0;
  const verdictStage: Stage = {
    name: 'export',
    async run(ir): Promise<StageOutput> {
      runs++;
      return { ir, exports: { fmt: 'fmt/model.bin' }, details: { measured: 1 }, verdict: { status: 'failed', reason: 'fmt disagrees', exitClass: 1 } };
    },
  };
  for (const expectedRuns of [1, 2]) {
    const r = await runStage({ stage: verdictStage, options: {}, onBudgetMiss: 'reject', budget: WHOLE }, input, cachedRc);
    assert.equal(r.report.status, 'failed');
    assert.equal(r.report.reason, 'fmt disagrees');
    assert.deepEqual(r.report.details, { measured: 1 });
    assert.deepEqual(r.report.artifacts, { fmt: 'export/fmt/model.bin' });
    assert.equal(r.exitClass, 1);
    assert.equal(r.failure, 'export: fmt disagrees');
    assert.deepEqual(r.exports, {}, 'a failed stage exports nothing');
    assert.equal(r.ir, input.ir);
    assert.equal(runs, expectedRuns, 'failed results are not served from the cache');
  }
});

test('a stage may reject its own result; the cache replays the verdict', async () => {
  const cacheDir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-stage-cache-'));
  const cachedRc = { ...rc, config: { ...rc.config, cacheDir } };
  const rejecting: Stage = {
    name: 'prune',
    run: async (ir) => ({ ir: cloneIR(ir), verdict: { status: 'rejected', reason: 'not worth it' } }),
  };
  for (const cached of [false, true]) {
    const r = await runStage({ stage: rejecting, options: {}, onBudgetMiss: 'fail', budget: WHOLE }, input, cachedRc);
    assert.equal(r.report.cached, cached);
    assert.equal(r.report.status, 'rejected');
    assert.equal(r.report.reason, 'not worth it');
    assert.equal(r.exitClass, 1, "onBudgetMiss 'fail' applies to any rejection");
    assert.equal(r.ir, input.ir);
  }
});

test('the gate uses the stage\'s cumulative share: a half share rejects what the whole budget accepts', async () => {
  // A budget that the broken model's drop fits in whole but not in half.
  const drop = input.metrics.valAccuracy - (await evaluateModel((() => { const b = cloneIR(input.ir); breakModel(b); return b; })(), rc.data, rc.config.evaluation)).valAccuracy;
  const budgeted = { ...rc, config: { ...rc.config, budget: { maxAccuracyDrop: drop * 1.5 } } };
  const whole = await runStage({ stage: stage(breakModel), options: {}, onBudgetMiss: 'reject', budget: WHOLE }, input, budgeted);
  assert.equal(whole.report.status, 'accepted');
  assert.equal(whole.report.budget!.share, 1);
  assert.ok(Math.abs(whole.report.budget!.maxAccuracyDrop - drop * 1.5) < 1e-9);
  assert.ok(Math.abs(whole.report.budget!.minValAccuracy - (input.metrics.valAccuracy - drop * 1.5)) < 1e-9);
  const half = await runStage({ stage: stage(breakModel), options: {}, onBudgetMiss: 'reject', budget: { share: 0.5, cumulative: 0.5 } }, input, budgeted);
  assert.equal(half.report.status, 'rejected');
  assert.match(half.report.reason!, /this stage's cumulative share/);
  assert.equal(half.report.budget!.share, 0.5);
});
