/** Runs one training step on both engines (ORT step graph vs tfjs cpu reference) and reports the largest differences. */
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../../pipeline/ir.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { OrtTrainer } from '../../../../pipeline/train/ort/trainer.ts';
import { randomizeWeights } from '../../../fixtures/models.ts';
import { tfjsOptimizerStep, tfjsReferenceStep, type ReferenceBatch } from './tfjs-reference.ts';
import { modelInputShape } from '../../../../pipeline/runner.ts';

export const TOLERANCE = 1e-5;

/**
 * Adam's first step is lr·g/(|g| + ε) with ε = 1e-7: for a gradient entry whose true value is 0 (a bias before a
 * BatchNormalization, a feature constant over the batch), both engines hold float noise of ~1e-9 and the step's
 * sign and size are decided by that noise. Such entries (|g| below this on both engines) are left out of the
 * end-to-end weight comparison; the optimizer check (tfjs's optimizer on ORT's gradients) still covers them.
 */
export const NOISE_GRADIENT = 1e-8;

export interface CompareOptions {
  batch?: number;
  alpha?: number;
  temperature?: number;
  optimizer?: 'adam' | 'sgd-momentum';
  learningRate?: number;
  /** Input values: uniform in [-1, 1) by default, or small integers (to make ties). */
  integerInputs?: number;
  seed?: number;
  /** BatchNormalization statistics while training (default 'batch'). */
  batchNorm?: 'batch' | 'moving';
  /** Edit the IR before both engines see it (e.g. integer kernels). */
  edit?: (ir: ModelIR) => void;
}

export interface Comparison {
  lossDiff: number;
  /** Largest |Δ| over all gradients, and per weight. */
  gradDiff: number;
  perGradient: Map<string, number>;
  /**
   * Largest |Δ| over all weights after the step (updated weights and running statistics), leaving out the entries
   * whose gradient is at float-noise level on both engines (see NOISE_GRADIENT).
   */
  weightDiff: number;
  perWeight: Map<string, number>;
  /** How many weight entries were left out of weightDiff as noise-level gradients. */
  noiseEntries: number;
  /** Largest |Δ| between the ORT update and tfjs's optimizer applied to ORT's own gradients (all entries). */
  optimizerDiff: number;
  /** Weights the step changed on the reference (so a no-op engine cannot pass). */
  changed: number;
  gradientKeys: string[];
  ir: ModelIR;
  batch: ReferenceBatch;
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs((a[i] as number) - (b[i] as number));
    if (!(d <= m)) m = Number.isNaN(d) ? Infinity : d;
  }
  return m;
}

export async function irOf(model: tf.LayersModel, seed = 1): Promise<ModelIR> {
  randomizeWeights(model, seed);
  const ir = await irFromTfjsModel(model);
  model.dispose();
  return ir;
}

export function randomBatch(sampleShape: number[], numClasses: number, opts: CompareOptions): ReferenceBatch {
  const rng = createRng(opts.seed ?? 11);
  const n = opts.batch ?? 3;
  const per = sampleShape.reduce((a, b) => a * b, 1);
  const x = Float32Array.from({ length: n * per }, () => (opts.integerInputs ? rng.int(opts.integerInputs) : rng.next() * 2 - 1));
  const y = Int32Array.from({ length: n }, () => rng.int(numClasses));
  const teacherLogits = Float32Array.from({ length: n * numClasses }, () => rng.normal() * 2);
  return { x, y, size: n, sampleShape, numClasses, teacherLogits };
}

export async function compareStep(ir: ModelIR, opts: CompareOptions = {}): Promise<Comparison> {
  await initEngine('cpu');
  opts.edit?.(ir);
  const sampleShape = modelInputShape(ir) as number[];
  const alpha = opts.alpha ?? 0;
  const temperature = opts.temperature ?? 2;
  const optimizer = opts.optimizer ?? 'adam';
  const learningRate = opts.learningRate ?? 1e-3;

  const trainer = await OrtTrainer.create(ir, { optimizer: { name: optimizer }, learningRate, alpha, temperature, exposeGradients: true, batchNorm: opts.batchNorm });
  const batch = randomBatch(sampleShape, trainer.graph.numClasses, opts);
  const maskRng = createRng((opts.seed ?? 11) + 1);
  batch.masks = new Map(trainer.graph.masks.map((m) => {
    const count = batch.size * m.sampleShape.reduce((a, b) => a * b, 1);
    return [m.layer, Float32Array.from({ length: count }, () => (maskRng.next() < 1 - m.rate ? 1 / (1 - m.rate) : 0))];
  }));
  let ort;
  try {
    ort = await trainer.step({ x: batch.x, y: batch.y, size: batch.size, teacherLogits: batch.teacherLogits, masks: batch.masks });
  } finally {
    await trainer.release();
  }
  const after = trainer.toIR();
  const ref = await tfjsReferenceStep(ir, batch, { alpha, temperature, optimizer: { name: optimizer, learningRate }, batchNorm: opts.batchNorm });

  const perGradient = new Map<string, number>();
  for (const [key, g] of ref.gradients) {
    const o = ort.gradients?.get(key);
    perGradient.set(key, o ? maxAbsDiff(o, g) : Infinity);
  }
  for (const key of ort.gradients?.keys() ?? []) if (!ref.gradients.has(key)) perGradient.set(key, Infinity);
  const perWeight = new Map<string, number>();
  let changed = 0;
  let noiseEntries = 0;
  for (const layer of ref.after.layers) {
    const before = ir.layers.find((l) => l.name === layer.name)!;
    const mine = after.layers.find((l) => l.name === layer.name)!;
    for (const w of layer.weights) {
      const key = `${layer.name}/${w.name}`;
      const [gRef, gOrt] = [ref.gradients.get(key), ort.gradients?.get(key)];
      const noise = (i: number) => gRef !== undefined && gOrt !== undefined && gRef[i] !== gOrt[i] &&
        Math.abs(gRef[i]) < NOISE_GRADIENT && Math.abs(gOrt[i]) < NOISE_GRADIENT;
      const values = mine.weights.find((q) => q.name === w.name)!.values;
      let d = 0;
      for (let i = 0; i < values.length; i++) {
        if (noise(i)) noiseEntries++;
        else d = Math.max(d, Math.abs(values[i] - w.values[i]));
      }
      perWeight.set(key, values.length === w.values.length ? d : Infinity);
      if (maxAbsDiff(before.weights.find((q) => q.name === w.name)!.values, w.values) > 0) changed++;
    }
  }
  const isolated = await tfjsOptimizerStep(ir, ort.gradients ?? new Map(), { name: optimizer, learningRate });
  let optimizerDiff = 0;
  for (const w of trainer.graph.weights.filter((c) => c.kind === 'trained')) {
    const mine = after.layers.find((l) => l.name === w.layer)!.weights.find((q) => q.name === w.weight)!;
    const theirs = isolated.layers.find((l) => l.name === w.layer)!.weights.find((q) => q.name === w.weight)!;
    optimizerDiff = Math.max(optimizerDiff, maxAbsDiff(mine.values, theirs.values));
  }
  return {
    lossDiff: Math.abs(ort.loss - ref.loss),
    gradDiff: Math.max(0, ...perGradient.values()),
    perGradient,
    weightDiff: Math.max(0, ...perWeight.values()),
    perWeight,
    noiseEntries,
    optimizerDiff,
    changed,
    gradientKeys: [...perGradient.keys()].sort(),
    ir,
    batch,
  };
}

/** Every gradient, weight after the step, loss and optimizer update within TOLERANCE of tfjs; the step changed something. */
export function assertClose(c: Comparison, expectedGradients: string[]): void {
  assert.deepEqual(c.gradientKeys, [...expectedGradients].sort());
  for (const [key, d] of c.perGradient) assert.ok(d <= TOLERANCE, `gradient ${key}: max |Δ| ${d}`);
  for (const [key, d] of c.perWeight) assert.ok(d <= TOLERANCE, `weight ${key} after the step: max |Δ| ${d}`);
  assert.ok(c.lossDiff <= TOLERANCE, `loss |Δ| ${c.lossDiff}`);
  assert.ok(c.optimizerDiff <= TOLERANCE, `update vs tfjs's optimizer on the same gradients: max |Δ| ${c.optimizerDiff}`);
  assert.ok(c.changed > 0, 'the reference step changed no weight');
}
