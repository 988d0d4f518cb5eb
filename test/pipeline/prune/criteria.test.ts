import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels, type ChannelAnalysis } from '../../../pipeline/graph/channel-groups.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { createPlanner, planFromRatios } from '../../../pipeline/prune/allocate.ts';
import { aggregate, CRITERIA, criterionFallbacks, scoreClasses, type CriterionName } from '../../../pipeline/prune/criteria.ts';
import { removeChannels } from '../../../pipeline/prune/remove-channels.ts';
import { createRng } from '../../../pipeline/random.ts';
import { functionalResidual, predictFlat, randomInputs, sequentialCnn } from '../../fixtures/models.ts';
import { depthwiseChain, silenceClasses } from './prunable-models.ts';

before(async () => {
  await initEngine('wasm');
});

function randomSet(shape: number[], count: number, classes: number, seed = 3): LabelledSet {
  const rng = createRng(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  return {
    x: Float32Array.from({ length: count * per }, () => rng.next() * 2 - 1),
    y: Int32Array.from({ length: count }, () => rng.int(classes)),
    count, sampleShape: shape, numClasses: classes,
  };
}

/** The first removable class of each group, silenced everywhere (producer, BN γ/β, consumer rows). */
async function silencedModel(build: () => tf.LayersModel): Promise<{ ir: ModelIR; analysis: ChannelAnalysis; silenced: Set<number> }> {
  const m = build();
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const analysis = analyzeChannels(ir);
  const silenced = new Set(analysis.groups.flatMap((g) => g.classes.filter((k) => !g.blocked.has(k)).slice(0, 1)));
  silenceClasses(ir, analysis, [...silenced], true);
  return { ir, analysis, silenced };
}

const zeroing: CriterionName[] = ['l1', 'l2', 'bn-scale', 'taylor', 'activation'];
for (const criterion of zeroing) {
  test(`${criterion}: silenced channels score lowest and their removal leaves predictions unchanged`, async () => {
    const dataDriven = criterion === 'taylor' || criterion === 'activation';
    for (const build of [sequentialCnn, functionalResidual, depthwiseChain]) {
      const { ir, analysis, silenced } = await silencedModel(build);
      const inputShape = (build === functionalResidual ? [8, 8, 3] : build === sequentialCnn ? [8, 8, 1] : [10, 10, 2]);
      const scores = await scoreClasses(criterion, { ir, analysis, data: randomSet(inputShape, 48, 3), batchSize: 16 });
      for (const g of analysis.groups) {
        const removable = g.classes.filter((k) => !g.blocked.has(k));
        if (removable.length === 0) continue;
        const zero = removable.find((k) => silenced.has(k))!;
        // Data-driven scores of a silenced channel are exactly 0; a unit that is dead on this data may tie with it.
        if (dataDriven) assert.equal(scores[zero], 0);
        for (const k of removable) {
          if (k !== zero) assert.ok(dataDriven ? scores[zero]! <= scores[k]! : scores[zero]! < scores[k]!, `${criterion} ${g.name}: silenced ${scores[zero]} vs ${scores[k]}`);
        }
      }
      // With unique minima the planner takes exactly the silenced classes at one channel per group.
      const planner = createPlanner(analysis, scores, 1);
      const removed = planFromRatios(planner, new Map(planner.groups.map((g) => [g.id, 1 / g.classes.length])));
      const uniqueMinima = planner.groups.every((g) => planner.order.get(g.id)!.filter((k) => scores[k] === 0).length <= 1);
      if (!dataDriven || uniqueMinima) assert.deepEqual([...removed].sort(), [...silenced].sort());
      else for (const k of removed) assert.equal(scores[k], 0);
      const [a, b] = [await buildTfjsModel(ir), await buildTfjsModel(removeChannels(ir, analysis, removed))];
      const inputs = randomInputs(a, 4, 9);
      const [[pa], [pb]] = [await predictFlat(a, inputs), await predictFlat(b, inputs)];
      for (let i = 0; i < pa!.length; i++) assert.ok(Math.abs(pa![i]! - pb![i]!) <= 1e-5);
      tf.dispose(inputs);
      a.dispose();
      b.dispose();
    }
  });
}

test('fpgm: the filter nearest the geometric median of its layer scores lowest', async () => {
  const m = sequentialCnn();
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const conv = ir.layers.find((l) => l.name === 'conv')!.weights.find((w) => w.name === 'kernel')!;
  // Filter 2 := mean of filters 0, 1, 3: the most replaceable one.
  for (let i = 0; i < conv.values.length; i += 4) conv.values[i + 2] = (conv.values[i]! + conv.values[i + 1]! + conv.values[i + 3]!) / 3;
  const analysis = analyzeChannels(ir);
  const scores = await scoreClasses('fpgm', { ir, analysis, data: randomSet([8, 8, 1], 8, 3), batchSize: 8 });
  const classes = [...analysis.producerClasses.get('conv')!];
  const lowest = classes.reduce((best, k) => (scores[k]! < scores[best]! ? k : best));
  assert.equal(lowest, classes[2]);
});

test('bn-scale falls back to l1 for groups without a BatchNormalization, and says so', async () => {
  const m = functionalResidual();
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const analysis = analyzeChannels(ir);
  assert.deepEqual(criterionFallbacks('bn-scale', analysis), []); // bn_b covers both groups
  const seq = await irFromTfjsModel(sequentialCnn());
  const seqAnalysis = analyzeChannels(seq);
  assert.deepEqual(criterionFallbacks('bn-scale', seqAnalysis), ['conv', 'fc1']);
  const data = randomSet([8, 8, 1], 8, 3);
  assert.deepEqual(await scoreClasses('bn-scale', { ir: seq, analysis: seqAnalysis, data, batchSize: 8 }), await scoreClasses('l1', { ir: seq, analysis: seqAnalysis, data, batchSize: 8 }));
});

test('aggregate: each weight counts once whatever its scale; classes no weight touches are NaN', () => {
  const scores = aggregate(3, [
    { binding: { classes: Int32Array.from([0, 0, 1]) }, perIndex: Float64Array.from([1, 1, 2]) }, // per class 2, 2 → 1, 1
    { binding: { classes: Int32Array.from([0, 1]) }, perIndex: Float64Array.from([100, 300]) }, // → 0.5, 1.5
  ]);
  assert.deepEqual([...scores.slice(0, 2)], [0.75, 1.25]);
  assert.ok(Number.isNaN(scores[2]!));
});

test('every criterion returns a finite score for every removable class and is deterministic', async () => {
  const m = depthwiseChain();
  const ir = await irFromTfjsModel(m);
  m.dispose();
  const analysis = analyzeChannels(ir);
  const data = randomSet([10, 10, 2], 32, 3);
  for (const criterion of CRITERIA) {
    const [a, b] = [await scoreClasses(criterion, { ir, analysis, data, batchSize: 16 }), await scoreClasses(criterion, { ir, analysis, data, batchSize: 16 })];
    assert.deepEqual(a, b, criterion);
    for (const g of analysis.groups) for (const k of g.classes) if (!g.blocked.has(k)) assert.ok(Number.isFinite(a[k]!), `${criterion} ${g.name} class ${k}`);
  }
});
