import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { DataSplits, LabelledSet } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { measureQuality, tfjsPredictor } from '../../pipeline/evaluate.ts';
import { inferShapes } from '../../pipeline/graph/shapes.ts';
import { countParams, type ModelIR } from '../../pipeline/ir.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import type { Metrics } from '../../pipeline/metrics.ts';
import { replayPruning, type PruningHistory } from '../../pipeline/prune/history.ts';
import type { StageContext, StageOutput } from '../../pipeline/stage.ts';
import { createStageContext } from '../../pipeline/stage-context.ts';
import { pruneStage } from '../../stages/prune.ts';
import { syntheticIdxSet } from '../fixtures/idx.ts';
import { tinyModelIR } from '../fixtures/tiny-task.ts';
import { randomizeWeights } from '../fixtures/models.ts';
import { trainedOnBars } from '../fixtures/sets.ts';

let data: DataSplits;
let trained: ModelIR;
let metrics: Metrics;

before(async () => {
  await initEngine('wasm');
  const m = tf.sequential();
  m.add(tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 8, kernelSize: 3, activation: 'relu', name: 'conv' }));
  m.add(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  m.add(tf.layers.dense({ units: 16, activation: 'relu', name: 'hidden' }));
  m.add(tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }));
  ({ data, trained, metrics } = await trainedOnBars(m, { train: 150, validation: 60, test: 60 }, 20));
});

function context(over: Partial<StageContext> = {}, splits = data, engine: 'tfjs' | 'ort' = 'tfjs'): StageContext {
  const ctx = createStageContext({
    data: splits, seed: 42, stageDir: mkdtempSync(path.join(os.tmpdir(), 'slimnet-prune-stage-')), baseline: metrics, budget: { maxDrop: 0.025 },
    evaluation: { engine, batchSize: 64 },
    log: (m) => void (process.env.PRUNE_LOG && console.error(m)),
  });
  return { ...ctx, ...over };
}

// roundTo 1: the tiny model (8 filters, 16 units) would otherwise leave the search two or three distinct sizes.
const quick = { fineTune: { epochs: 2, batchSize: 16, learningRate: 0.002 }, calibrationSamples: 64, roundTo: 1, progressive: { fineTuneSamples: 300 } };

async function run(options: Record<string, unknown>, ctx = context()): Promise<StageOutput> {
  return pruneStage.create(pruneStage.options.parse(options)).run(trained, ctx);
}

const channels = (ir: ModelIR, layer: string) => inferShapes(ir).get(layer)!.at(-1)!;

test('the baseline solves the task', () => {
  assert.ok(metrics.valAccuracy >= 0.95, `val ${metrics.valAccuracy}`);
});

test('default search: smaller model within the budget, full report, replayable history', async () => {
  const out = await run(quick);
  const d = out.details as Record<string, any>;
  assert.ok(countParams(out.ir) < countParams(trained));
  const floor = metrics.valAccuracy - 0.025; // the stage's budget from the context
  assert.ok(Math.abs(d.budget.floor - floor) < 1e-12);
  const p = await tfjsPredictor(out.ir);
  assert.ok((await measureQuality(p, data.validation, 64)).accuracy >= floor);
  p.dispose();
  assert.deepEqual(d.sensitivity.map((s: any) => s.group), ['conv', 'hidden']);
  assert.ok(d.explored.length >= 2);
  assert.ok(d.explored.some((e: any) => e.passed));
  // The one-shot search's smallest passing model went on shrinking in progressive steps (each with a short
  // fine-tune); the model the descent ended with gets the long fine-tune.
  assert.ok(d.progressive.length >= 1 && d.progressive.every((s: any) => Number.isFinite(s.afterReconstruction) && Number.isFinite(s.afterFineTune)));
  assert.ok(d.progressive.some((s: any) => s.passed));
  assert.deepEqual(d.recovery.map((s: any) => s.step), ['search', 'fine-tuning']);
  assert.ok(d.explored.every((e: any) => e.fraction >= d.sizes.after.params / d.sizes.before.params - 1e-9));
  for (const s of d.recovery) for (const k of ['valAccuracy', 'testAccuracy', 'valLoss']) assert.ok(Number.isFinite(s[k]));
  assert.equal(d.sizes.after.params, countParams(out.ir));
  assert.ok(d.sizes.after.macs < d.sizes.before.macs && d.sizes.after.bytes < d.sizes.before.bytes);
  const conv = d.layers.find((l: any) => l.layer === 'conv');
  assert.deepEqual(conv.out, [8, channels(out.ir, 'conv')]);
  // Replaying the history on the input model gives the output's shapes.
  const history = JSON.parse(JSON.stringify(d.history)) as PruningHistory;
  const replayed = replayPruning(trained, history);
  assert.deepEqual(replayed.layers.map((l) => l.weights.map((w) => w.shape)), out.ir.layers.map((l) => l.weights.map((w) => w.shape)));
  assert.equal(history.criterion, 'l1');
  assert.ok(out.notes!.some((n) => /params .* fewer/.test(n)) && out.notes!.some((n) => /after search .* fine-tuning/.test(n)));
});

test('the test split never steers a decision: scrambled test labels give the same model', async () => {
  const scrambled: DataSplits = { ...data, test: { ...data.test, y: data.test.y.map((y) => (y + 1) % 3) } };
  const [a, b] = [await run({ ...quick, fineTune: false }), await run({ ...quick, fineTune: false }, context({}, scrambled))];
  assert.deepEqual(b.ir, a.ir);
  assert.deepEqual((b.details as any).explored, (a.details as any).explored);
});

test('candidate evaluations on onnxruntime: neither the shared forward prefix nor the concurrency changes the result', async () => {
  const ort = () => context({}, data, 'ort');
  const [a, b] = [await run({ ...quick, fineTune: false, sharedPrefix: false }, ort()), await run({ ...quick, fineTune: false, concurrency: 3 }, ort())];
  assert.deepEqual(b.ir, a.ir);
  const [da, db] = [a.details as Record<string, any>, b.details as Record<string, any>];
  assert.deepEqual(db.sensitivity, da.sensitivity);
  assert.equal(da.work.prefixReuse, undefined);
  // The hidden layer's candidates ran only from the Flatten on: fewer forward MACs than running them whole.
  const reuse = db.work.prefixReuse;
  assert.ok(reuse.suffixOnly >= 1 && reuse.macsShared < reuse.macsWhole, JSON.stringify(reuse));
  assert.equal(typeof b.timings?.sensitivitySeconds, 'number');
});

test('a fixed ratio prunes every group by that share; per-layer overrides win', async () => {
  const out = await run({ ratio: 0.5, layers: { hidden: 0.25 }, reconstruct: false, fineTune: false });
  assert.equal(channels(out.ir, 'conv'), 4);
  assert.equal(channels(out.ir, 'hidden'), 12);
  assert.equal(channels(out.ir, 'out'), 3);
  assert.equal((out.details as any).explored.length, 0);
  assert.deepEqual((out.details as any).recovery.map((s: any) => s.step), ['removal']);
});

test('a params target is met, with or without the search', async () => {
  for (const search of [true, false]) {
    const out = await run({ ...quick, fineTune: false, target: { params: 0.3 }, search });
    assert.ok(countParams(out.ir) <= 0.3 * countParams(trained), `search ${search}: ${countParams(out.ir)}`);
  }
  await assert.rejects(run({ target: { params: 0.0001 }, fineTune: false }), (e) => e instanceof SlimnetError && e.where === 'prune.target.params');
});

test('nothing passes the floor: the input model comes back untouched, with a note', async () => {
  const out = await run({ ...quick, fineTune: false }, context({ budget: { total: 0.025, share: 1, maxDrop: 0.025, floor: 1.5 } }));
  assert.equal(out.ir, trained);
  assert.match(out.notes![0]!, /nothing pruned/);
});

test('options: defaults, exactly one target metric, unknown layers named', async () => {
  const defaults = pruneStage.options.parse({});
  assert.equal(defaults.criterion, 'l1');
  assert.equal(defaults.search, true);
  assert.equal(defaults.reconstruct, true);
  assert.ok(defaults.fineTune && defaults.fineTune.epochs > 0 && defaults.fineTune.temperature > 0);
  assert.equal(pruneStage.options.safeParse({ target: { params: 0.5, macs: 0.5 } }).success, false);
  assert.equal(pruneStage.options.safeParse({ criterion: 'random' }).success, false);
  assert.equal(pruneStage.options.safeParse({ fineTune: false }).success, true);
  assert.deepEqual(pruneStage.options.safeParse({ ratio: 0.5, target: { params: 0.5 } }).error?.issues[0]?.path, ['ratio']);
  await assert.rejects(run({ layers: { nope: 0.5 }, fineTune: false }), (e) => e instanceof SlimnetError && e.where === 'prune.layers.nope');
});

test('a model without prunable channels comes back unchanged, with a note', async () => {
  const ir = tinyModelIR(); // Flatten → Dense(softmax): the only producer is the output
  const spec = syntheticIdxSet(30, 6, 6, 3, 4);
  const set: LabelledSet = { x: Float32Array.from(spec.images, (v) => v / 255), y: Int32Array.from(spec.labels), count: 30, sampleShape: [6, 6, 1], numClasses: 3 };
  const out = await pruneStage.create(pruneStage.options.parse({ fineTune: false })).run(ir, context({}, { ...data, train: set, validation: set }));
  assert.equal(out.ir, ir);
  assert.match(out.notes![0]!, /nothing pruned/);
});

test('layers the analysis (or inferShapes) does not know block only their own channels; the rest is pruned', async () => {
  // TimeDistributed is a tfjs layer inferShapes lacks: shapes come from tfjs, it blocks its input, the Dense after it prunes.
  const input = tf.input({ shape: [6, 6] });
  const seq = tf.layers.conv1d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'c1d' }).apply(input) as tf.SymbolicTensor;
  const td = tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 5 }), name: 'td' }).apply(seq) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(td) as tf.SymbolicTensor;
  const hidden = tf.layers.dense({ units: 8, activation: 'relu', name: 'hidden' }).apply(flat) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(hidden) as tf.SymbolicTensor;
  const m = randomizeWeights(tf.model({ inputs: input, outputs: out }), 3);
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const set = { ...data.train, sampleShape: [6, 6] };
  const result = await pruneStage.create(pruneStage.options.parse({ ratio: 0.5, fineTune: false, calibrationSamples: 32 })).run(ir, context({}, { ...data, train: set, validation: { ...data.validation, sampleShape: [6, 6] }, test: { ...data.test, sampleShape: [6, 6] } }));
  const d = result.details as Record<string, any>;
  assert.deepEqual(d.analysis.unsupported.map((u: any) => u.layer), ['td']);
  assert.deepEqual(d.layers.map((l: any) => l.layer), ['hidden', 'out']);
  const rebuilt = await buildTfjsModel(result.ir);
  assert.equal((rebuilt.getLayer('hidden').outputShape as number[])[1], 4);
  assert.equal((rebuilt.getLayer('c1d').outputShape as number[])[2], 4);
  rebuilt.dispose();
  assert.ok(Number.isNaN(d.sizes.after.macs)); // countMacs cannot shape a TimeDistributed
});

test('roundTo: the searched model keeps multiples of 4 (the default) in every pruned layer', async () => {
  const out = await run({ ...quick, roundTo: 4, fineTune: false, progressive: false });
  const [conv, hidden] = [channels(out.ir, 'conv'), channels(out.ir, 'hidden')];
  assert.ok(conv * hidden < 8 * 16, `${conv}, ${hidden}`);
  assert.equal(conv % 4, 0);
  assert.equal(hidden % 4, 0);
});

test('progressive false: the one-shot search, recovered by removal → reconstruction → fine-tuning', async () => {
  const out = await run({ ...quick, progressive: false });
  const d = out.details as Record<string, any>;
  assert.deepEqual(d.progressive, []);
  assert.deepEqual(d.recovery.map((s: any) => s.step), ['removal', 'reconstruction', 'fine-tuning']);
  assert.ok(d.work.evaluations <= d.work.maxCandidates && d.work.evaluations > 0);
  // Latency is the runner's (the output against the baseline): the stage does not time the model again.
  const timings = out.timings as Record<string, any>;
  assert.equal(timings.latency, undefined);
  assert.equal(d.latency, undefined);
  // Wall times are timings (phases, when each recovery step finished, the fine-tune's); details stay deterministic.
  assert.doesNotMatch(JSON.stringify(d), /"seconds"/);
  assert.deepEqual(timings.recovery.map((t: any) => t.step), ['removal', 'reconstruction', 'fine-tuning']);
  assert.ok(['setup', 'sensitivity', 'search', 'recovery'].every((p) => typeof timings.phases[p] === 'number'), JSON.stringify(timings.phases));
  assert.equal(typeof timings.fineTuneSeconds, 'number');
});

test('maxCandidates bounds the evaluations: too few for a sensitivity point per group measures the largest group only', async () => {
  const out = await run({ ...quick, fineTune: false, maxCandidates: 3 });
  const d = out.details as Record<string, any>;
  // 3 evaluations: 1 for the analysis, so one group at one ratio — the one holding the most parameters.
  assert.equal(d.sensitivity.length, 1);
  assert.equal(d.sensitivity[0].points.length, 2);
  // At maxRatio 0.9, conv's 7 filters take 7 × (9 + 1) + 7 × 4 × 16 = 518 params with them, hidden's 14 units 14 × (32 + 1 + 3) = 504.
  assert.equal(d.sensitivity[0].group, 'conv');
  assert.ok(d.work.evaluations <= 3, `${d.work.evaluations}`);
});
