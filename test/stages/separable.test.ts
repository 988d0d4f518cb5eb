import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { DataSplits } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { measureQuality, tfjsPredictor } from '../../pipeline/evaluate.ts';
import { exportTflite } from '../../pipeline/formats/tflite/export.ts';
import { countParams, type ModelIR } from '../../pipeline/ir.ts';
import type { Metrics } from '../../pipeline/metrics.ts';
import { onnxPredictor } from '../../pipeline/onnx/ort.ts';
import type { StageContext, StageOutput } from '../../pipeline/stage.ts';
import { createStageContext } from '../../pipeline/stage-context.ts';
import { canTrainOnOrt } from '../../pipeline/train/ort/ort-fine-tune.ts';
import { pruneStage } from '../../stages/prune.ts';
import { separableStage } from '../../stages/separable.ts';
import { trainedOnBars } from '../fixtures/sets.ts';

let data: DataSplits;
let trained: ModelIR;
let metrics: Metrics;

before(async () => {
  await initEngine('wasm');
  const m = tf.sequential();
  // 'narrow' has one filter: no depthwise + pointwise pair pays there.
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 1, kernelSize: 3, padding: 'same', activation: 'relu', name: 'narrow' }));
  m.add(tf.layers.conv2d({ filters: 12, kernelSize: 3, padding: 'same', activation: 'relu', name: 'conv' }));
  m.add(tf.layers.conv2d({ filters: 16, kernelSize: 3, activation: 'relu', name: 'conv_b' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 24, activation: 'relu', name: 'hidden' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  ({ data, trained, metrics } = await trainedOnBars(m, { train: 200, validation: 80, test: 60 }, 25));
});

function context(over: Partial<StageContext> = {}, splits = data): StageContext {
  const ctx = createStageContext({
    data: splits, seed: 42, stageDir: mkdtempSync(path.join(os.tmpdir(), 'slimnet-separable-stage-')), baseline: metrics, budget: { total: 0.1, share: 0.5, maxDrop: 0.05 },
    evaluation: { engine: 'ort', batchSize: 64 },
  });
  return { ...ctx, ...over };
}

const quick = { fineTune: { epochs: 2, batchSize: 16, learningRate: 0.002 }, calibrationSamples: 128 };

function run(options: Record<string, unknown>, ir = trained, ctx = context()): Promise<StageOutput> {
  return separableStage.create(separableStage.options.parse(options)).run(ir, ctx);
}

const classes = (ir: ModelIR) => ir.layers.map((l) => `${l.name}:${l.className}`);

test('the baseline solves the task', () => {
  assert.ok(metrics.valAccuracy >= 0.95, `val ${metrics.valAccuracy}`);
});

test('default search: replaces layers within the budget share, reports every layer, leaves the non-paying one alone', async () => {
  // reach 100: whatever plan follows the furthest passing one is fine-tuned first, and ships only above the floor.
  const out = await run({ ...quick, reach: 100 });
  const d = out.details as Record<string, any>;
  const tried = d.nearMiss as { planIndex: number; passed: boolean; recovery: { step: string; valAccuracy: number }[] }[] | undefined;
  if (tried) {
    assert.equal(tried[0]!.planIndex, d.path.findIndex((s: any) => s.passed === false), 'the near miss is the first failing step');
    // Either it passed after fine-tuning and shipped, or it did not and the passing plan followed.
    assert.ok(tried[0]!.passed ? tried.length === 1 : tried.length === 2 && tried[1]!.passed, JSON.stringify(tried));
    assert.deepEqual(d.recovery, tried.at(-1)!.recovery);
  }
  assert.ok(countParams(out.ir) < countParams(trained));
  const floor = metrics.valAccuracy - 0.05; // the stage's budget from the context
  assert.ok(Math.abs(d.budget.floor - floor) < 1e-12);
  const p = await tfjsPredictor(out.ir);
  assert.ok((await measureQuality(p, data.validation, 64)).accuracy >= floor - 1e-9);
  p.dispose();
  assert.deepEqual(d.layers.map((l: any) => l.layer), ['narrow', 'conv', 'conv_b', 'hidden', 'out']);
  const narrow = d.layers.find((l: any) => l.layer === 'narrow');
  assert.equal(narrow.outcome, 'kept');
  assert.match(narrow.reason, /does not pay/);
  // A kept ineligible layer still reports its MACs (6×6 positions × 3×3 taps × 1 filter), not NaN.
  assert.deepEqual([narrow.macsBefore, narrow.macsAfter], [324, 324]);
  assert.ok(out.ir.layers.find((l) => l.name === 'narrow')!.className === 'Conv2D');
  assert.deepEqual(d.sensitivity.map((s: any) => s.layer), ['conv', 'conv_b', 'hidden', 'out']);
  for (const s of d.sensitivity) for (const pt of s.points) assert.ok(Number.isFinite(pt.valAccuracy) && pt.relErrorAfter <= pt.relErrorBefore + 1e-6);
  const replaced = d.layers.filter((l: any) => l.outcome !== 'kept');
  assert.ok(replaced.length > 0, 'something is replaced');
  for (const l of replaced) {
    assert.ok(l.paramsAfter < l.paramsBefore && l.macsAfter < l.macsBefore);
    assert.ok(l.relErrorAfter <= l.relErrorBefore + 1e-6, `${l.layer}: refit does not make it worse`);
    const first = out.ir.layers.find((x) => x.name === `${l.layer}_${l.outcome === 'separable' ? 'depthwise' : 'lowrank'}`)!;
    assert.equal(first.className, l.outcome === 'separable' ? 'DepthwiseConv2D' : 'Dense');
  }
  for (const l of d.layers.filter((x: any) => x.outcome === 'kept')) assert.ok(typeof l.reason === 'string' && l.reason.length > 0);
  assert.deepEqual(d.recovery.map((s: any) => s.step), ['replacement', 'refit', 'fine-tuning']);
  // Wall times are the stage's timings (phases, when each recovery step finished); details stay deterministic.
  assert.doesNotMatch(JSON.stringify(d), /"seconds"/);
  const timings = out.timings as Record<string, any>;
  assert.deepEqual(timings.recovery.filter((t: any) => t.attempt === timings.recovery.at(-1).attempt).map((t: any) => t.step), ['replacement', 'refit', 'fine-tuning']);
  assert.ok(['sensitivity', 'plans', 'recovery'].every((p) => typeof timings.phases[p] === 'number'), JSON.stringify(timings.phases));
  assert.equal(d.sizes.after.params, countParams(out.ir));
  assert.ok(out.notes!.some((n) => /params .* fewer/.test(n)));
  // The new layers train on onnxruntime.
  assert.deepEqual(canTrainOnOrt(out.ir), { ok: true });
  assert.equal(d.fineTune.engine, 'ort');
});

test('refits hold sampled rows, at most maxConvRows of them, whatever the calibration set', async () => {
  const out = await run({ ...quick, fineTune: false, maxConvRows: 100 });
  const fits = (out.details as Record<string, any>).refit as Array<{ layer: string; rows: number; relErrorBefore: number; relErrorAfter: number }>;
  assert.ok(fits.length > 0);
  for (const f of fits) {
    assert.ok(f.rows > 0 && f.rows <= 100, `${f.layer}: ${f.rows} rows`);
    assert.ok(f.relErrorAfter <= f.relErrorBefore + 1e-6, `${f.layer}: refit does not make it worse`);
  }
});

test('the test split never steers a decision: scrambled test labels give the same model', async () => {
  const scrambled: DataSplits = { ...data, test: { ...data.test, y: data.test.y.map((y) => (y + 1) % 3) } };
  const [a, b] = [await run({ ...quick, fineTune: false }), await run({ ...quick, fineTune: false }, trained, context({}, scrambled))];
  assert.deepEqual(b.ir, a.ir);
  assert.deepEqual((b.details as any).path, (a.details as any).path);
});

test('fixed choices: a size per layer, false keeps a layer; bad names and sizes are config errors', async () => {
  const out = await run({ layers: { conv_b: 2, hidden: false, conv: false, out: false }, fineTune: false, calibrationSamples: 64 });
  assert.deepEqual(classes(out.ir).filter((c) => c.startsWith('conv_b')), ['conv_b_depthwise:DepthwiseConv2D', 'conv_b:Conv2D']);
  assert.equal((out.ir.layers.find((l) => l.name === 'conv_b_depthwise')!.config as unknown as { depthMultiplier: number }).depthMultiplier, 2);
  assert.equal((out.details as any).layers.find((l: any) => l.layer === 'hidden').reason, 'kept by the layers option');
  await assert.rejects(run({ layers: { narrow: 1 }, fineTune: false }), (e) => e instanceof SlimnetError && e.where === 'separable.layers.narrow');
  await assert.rejects(run({ layers: { nope: 1 }, fineTune: false }), (e) => e instanceof SlimnetError && /no layer "nope"/.test(e.message));
  await assert.rejects(run({ layers: { conv: 8 }, fineTune: false }), (e) => e instanceof SlimnetError && /does not pay/.test(e.message));
});

test('nothing passes the floor, even the nearest miss after fine-tuning: the input comes back untouched, with the reasons', async () => {
  const out = await run({ ...quick, fineTune: { epochs: 1, batchSize: 32 }, reach: 100 }, trained, context({ budget: { total: 0.1, share: 0.5, maxDrop: 0.05, floor: 1.5 } }));
  assert.equal(out.ir, trained);
  assert.match(out.notes![0]!, /nothing replaced .*nearest miss/);
  const d = out.details as any;
  assert.deepEqual(d.nearMiss.map((a: any) => [a.planIndex, a.passed]), [[0, false]]);
  assert.deepEqual(d.nearMiss[0].recovery.map((r: any) => r.step), ['replacement', 'refit', 'fine-tuning']);
  for (const l of d.layers) assert.equal(l.outcome, 'kept');
});

async function parityWithOnnx(ir: ModelIR): Promise<number> {
  const [tfp, ortp] = [await tfjsPredictor(ir), await onnxPredictor(ir)];
  const x = data.test.x.subarray(0, 16 * 36);
  const [a, b] = [await tfp.predict(x, 16, [6, 6, 1]), await ortp.predict(x, 16, [6, 6, 1])];
  tfp.dispose();
  ortp.dispose();
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
}

test('composes: prune → separable → prune again; every result exports to ONNX with parity and to TFLite', async () => {
  const pruneCtx = context();
  const pruned = await pruneStage.create(pruneStage.options.parse({ ratio: 0.25, fineTune: false, calibrationSamples: 64 })).run(trained, pruneCtx);
  const separated = await run({ ...quick, fineTune: false, layers: { conv: 2, conv_b: 2, hidden: 4 } }, pruned.ir);
  assert.ok(separated.ir.layers.some((l) => l.className === 'DepthwiseConv2D'));
  const again = await pruneStage.create(pruneStage.options.parse({ ratio: 0.25, fineTune: false, calibrationSamples: 64 })).run(separated.ir, context());
  assert.ok(countParams(again.ir) < countParams(separated.ir), 'the separable output prunes further');
  for (const ir of [separated.ir, again.ir]) {
    assert.ok((await parityWithOnnx(ir)) < 1e-5);
    assert.ok(exportTflite(ir).length > 0);
  }
});
