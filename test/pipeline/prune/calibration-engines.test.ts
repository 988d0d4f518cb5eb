/**
 * Reconstruction and the activation criterion read calibration activations on onnxruntime when the model
 * exports: the results must be those of the tfjs reads (same fits, same weights, same scores, up to rounding).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { ActivationEngine } from '../../../pipeline/calibrate.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels, type ChannelAnalysis } from '../../../pipeline/graph/channel-groups.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { activationScores } from '../../../pipeline/prune/data-criteria.ts';
import { createReconstructor, reconstructionTargets } from '../../../pipeline/prune/reconstruct.ts';
import { removeChannels } from '../../../pipeline/prune/remove-channels.ts';
import { functionalResidual, sequentialCnn } from '../../fixtures/models.ts';
import { residualConcat } from './prunable-models.ts';
import { randomInputSet } from '../../fixtures/sets.ts';

before(async () => {
  await initEngine('wasm');
});

async function irOf(build: () => tf.LayersModel): Promise<{ ir: ModelIR; analysis: ChannelAnalysis; shape: number[] }> {
  const m = build();
  const shape = m.inputs[0]!.shape.slice(1) as number[];
  const ir = await irFromTfjsModel(m);
  m.dispose();
  return { ir, analysis: analyzeChannels(ir), shape };
}

/** Half of every group's removable classes. */
function halfOfEveryGroup(a: ChannelAnalysis): Set<number> {
  return new Set(a.groups.flatMap((g) => {
    const removable = g.classes.filter((k) => !g.blocked.has(k));
    return removable.slice(0, Math.floor(removable.length / 2));
  }));
}

const models: Record<string, () => tf.LayersModel> = {
  'Flatten → Dense consumers (sequential CNN)': () => sequentialCnn(4),
  'Dense after BN/Concatenate/global pool (residual net)': () => functionalResidual(),
  'Conv2D consumer after Add/Concatenate/Multiply': () => residualConcat(),
};

for (const [label, build] of Object.entries(models)) {
  test(`reconstruction reads on onnxruntime and fits what the tfjs reads fit: ${label}`, async () => {
    const { ir, analysis, shape } = await irOf(build);
    const removed = halfOfEveryGroup(analysis);
    const pruned = removeChannels(ir, analysis, removed);
    const calibration = randomInputSet(shape, 40, 5);
    const run = async (engine: ActivationEngine) => {
      const r = await createReconstructor(ir, { calibration, batchSize: 16, ridge: 1e-2, maxRows: 4096, seed: 1, engine });
      try {
        return await r.run(pruned, reconstructionTargets(analysis, removed));
      } finally {
        r.dispose();
      }
    };
    const [viaOrt, viaTfjs] = [await run('ort'), await run('tfjs')];
    assert.ok(viaTfjs.fits.length > 0);
    assert.deepEqual(viaOrt.fits.map((f) => [f.layer, f.rows, f.features]), viaTfjs.fits.map((f) => [f.layer, f.rows, f.features]));
    viaOrt.fits.forEach((f, i) => {
      const t = viaTfjs.fits[i]!;
      assert.ok(Math.abs(f.mseBefore - t.mseBefore) <= 1e-4 * Math.max(t.mseBefore, 1e-6), `${f.layer} mseBefore ${f.mseBefore} vs ${t.mseBefore}`);
      assert.ok(Math.abs(f.mseAfter - t.mseAfter) <= 1e-3 * Math.max(t.mseAfter, 1e-6), `${f.layer} mseAfter ${f.mseAfter} vs ${t.mseAfter}`);
    });
    for (const f of viaTfjs.fits) {
      const [a, b] = [viaOrt.ir, viaTfjs.ir].map((m) => m.layers.find((l) => l.name === f.layer)!.weights);
      a!.forEach((w, i) => {
        let diff = 0;
        w.values.forEach((v, j) => (diff = Math.max(diff, Math.abs(v - b![i]!.values[j]!))));
        assert.ok(diff <= 1e-4, `${f.layer}/${w.name}: max |Δ| ${diff}`);
      });
    }
  });
}

test('the activation criterion scores the same on onnxruntime and tfjs', async () => {
  for (const build of Object.values(models)) {
    const { ir, analysis, shape } = await irOf(build);
    const ctx = { ir, analysis, data: randomInputSet(shape, 24, 7), batchSize: 10 };
    const [viaOrt, viaTfjs] = [await activationScores(ctx, 'ort'), await activationScores(ctx, 'tfjs')];
    assert.ok(viaTfjs.length > 0);
    assert.equal(viaOrt.length, viaTfjs.length);
    viaOrt.forEach((s, i) => {
      assert.deepEqual(s.binding.classes, viaTfjs[i]!.binding.classes);
      s.perIndex.forEach((v, c) => assert.ok(Math.abs(v - viaTfjs[i]!.perIndex[c]!) <= 1e-5 * Math.max(1, Math.abs(v)), `score ${v} vs ${viaTfjs[i]!.perIndex[c]}`));
    });
  }
});
