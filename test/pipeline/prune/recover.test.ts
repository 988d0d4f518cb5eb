/**
 * recover(): the gate's metric (validation accuracy) decides whether a recovery step's model replaces the earlier
 * one. The case of issue 16: fine-tuning that lowers validation *loss* but also validation *accuracy* must not be
 * kept — the reconstructed model ships and the result says so.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { initEngine } from '../../../pipeline/engine.ts';
import { createPredictor, measureQuality } from '../../../pipeline/evaluate.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { cloneIR, countParams, findLayer, type ModelIR } from '../../../pipeline/ir.ts';
import { createReconstructor } from '../../../pipeline/prune/reconstruct.ts';
import { notWorse, recover, type RecoveryContext } from '../../../pipeline/prune/recover.ts';
import type { FineTuner } from '../../../pipeline/train/types.ts';
import { barSet } from '../../fixtures/sets.ts';
import { TINY, tinyHiddenModelIR } from '../../fixtures/tiny-task.ts';

const { rows, cols, classes } = TINY;

/**
 * A "fine-tune" that really transforms the model the way a bad one can: it flattens the output logits towards
 * uniform (far lower loss on samples the confident model got wrong) and tilts them towards class 0 (most samples
 * of classes 1 and 2 now come out wrong).
 */
const flatteningFineTune: FineTuner = async (ir) => {
  const tuned = cloneIR(ir);
  const out = findLayer(tuned, 'out');
  const kernel = out.weights.find((w) => w.name === 'kernel')!;
  const bias = out.weights.find((w) => w.name === 'bias')!;
  kernel.values = kernel.values.map((v) => v * 0.002);
  bias.values = Float32Array.from(bias.values, (_, k) => (k === 0 ? 0.3 : 0));
  return { ir: tuned, engine: 'test-transform', samples: 0, seconds: 0, finalLoss: 0 };
};

let train: LabelledSet;
let validation: LabelledSet;

before(async () => {
  await initEngine('wasm');
  train = barSet(150, 1);
  // Every fifth validation label is wrong: a confident model gets those confidently wrong (high loss).
  validation = barSet(60, 3);
  validation.y = validation.y.map((y, i) => (i % 5 === 0 ? (y + 1) % classes : y));
});

async function measure(ir: ModelIR, set: LabelledSet) {
  const predictor = await createPredictor(ir, 'auto');
  try {
    return await measureQuality(predictor, set, 64);
  } finally {
    predictor.dispose();
  }
}

test('fine-tuning that lowers validation loss but also validation accuracy is discarded: the reconstructed model is kept', async () => {
  const original = tinyHiddenModelIR(12);
  const analysis = analyzeChannels(original);
  const hiddenClasses = [...analysis.producerClasses.get('hidden')!];
  const removed = new Set(hiddenClasses.slice(3));
  const reconstructor = await createReconstructor(original, { calibration: train, batchSize: 64, ridge: 1e-6, maxRows: 4096, seed: 1 });
  const logs: string[] = [];
  const rc: RecoveryContext = {
    original, analysis, reconstructor, fineTuner: flatteningFineTune, train, seed: 1,
    fineTune: { temperature: 2, alpha: 0.5, epochs: 1, batchSize: 16, learningRate: 1e-3, optimizer: 'adam' },
    validate: (ir) => measure(ir, validation),
    testAccuracy: async () => 0,
    log: (m) => logs.push(m),
    elapsed: () => 0,
  };
  try {
    const result = await recover(removed, rc);
    const byStep = Object.fromEntries(result.steps.map((s) => [s.step, s]));
    assert.deepEqual(Object.keys(byStep), ['removal', 'reconstruction', 'fine-tuning']);
    // The situation of the issue: the old loss rule would have kept this fine-tune.
    assert.ok(byStep['fine-tuning']!.valLoss < byStep.reconstruction!.valLoss,
      `precondition: fine-tuning lowers validation loss (${byStep.reconstruction!.valLoss} → ${byStep['fine-tuning']!.valLoss})`);
    assert.ok(byStep['fine-tuning']!.valAccuracy < byStep.reconstruction!.valAccuracy,
      `precondition: fine-tuning lowers validation accuracy (${byStep.reconstruction!.valAccuracy} → ${byStep['fine-tuning']!.valAccuracy})`);

    assert.equal(result.fineTune?.kept, false);
    assert.equal(result.valAccuracy, byStep.reconstruction!.valAccuracy);
    assert.equal(countParams(result.ir), countParams(original) - 3 * (rows * cols + 1) - 3 * classes, 'the pruned model, not the original');
    const shipped = await measure(result.ir, validation);
    assert.equal(shipped.accuracy, byStep.reconstruction!.valAccuracy, 'the returned model is the reconstructed one');
    assert.deepEqual(result.discarded, [
      { step: 'fine-tuning', valAccuracy: byStep['fine-tuning']!.valAccuracy, kept: 'reconstruction', keptValAccuracy: byStep.reconstruction!.valAccuracy },
    ]);
    assert.ok(logs.some((l) => /fine-tuning lowered validation accuracy .* the model after reconstruction is kept/.test(l)), logs.join('\n'));
  } finally {
    reconstructor.dispose();
  }
});

test('notWorse: accuracy decides, loss only breaks exact ties', () => {
  assert.equal(notWorse({ accuracy: 0.8, loss: 9, count: 10 }, { accuracy: 0.7, loss: 0.1, count: 10 }), true);
  assert.equal(notWorse({ accuracy: 0.6, loss: 0.1, count: 10 }, { accuracy: 0.7, loss: 9, count: 10 }), false);
  assert.equal(notWorse({ accuracy: 0.7, loss: 0.5, count: 10 }, { accuracy: 0.7, loss: 0.6, count: 10 }), true);
  assert.equal(notWorse({ accuracy: 0.7, loss: 0.7, count: 10 }, { accuracy: 0.7, loss: 0.6, count: 10 }), false);
});
