/**
 * The prune stage on the families added through the layer registry: a Conv1D network (filters pruned through
 * Conv1D → Conv1D → GlobalAveragePooling1D → Dense; fine-tuned on onnxruntime) and a Conv2D → Conv2DTranspose →
 * Conv2D network (the transposed kernel [kh, kw, out, in] sliced on axis 2 as producer and 3 as consumer;
 * fine-tuned on tfjs-wasm, which has no ORT rule). Both shrink, stay accurate, and export to ONNX with parity.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { DataSplits } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { evaluateModel } from '../../pipeline/evaluate.ts';
import { inferShapes } from '../../pipeline/graph/shapes.ts';
import { countParams, type ModelIR } from '../../pipeline/ir.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { exportOnnx } from '../../pipeline/onnx/export.ts';
import { createStageContext } from '../../pipeline/stage-context.ts';
import { tfjsFineTune } from '../../pipeline/train/tfjs-fine-tune.ts';
import { pruneStage } from '../../stages/prune.ts';
import { randomizeWeights } from '../fixtures/models.ts';
import { barSet } from '../fixtures/sets.ts';
import { onnxDiff } from '../pipeline/layers/harness.ts';

let data: DataSplits;

before(async () => {
  await initEngine('wasm');
  data = { train: barSet(150, 1), validation: barSet(60, 3), test: barSet(60, 2), fingerprint: 'test', describe: {} };
});

async function trained(layers: tf.layers.Layer[]): Promise<ModelIR> {
  const m = tf.sequential();
  m.add(tf.layers.inputLayer({ inputShape: [6, 6, 1] }));
  for (const l of layers) m.add(l);
  const random = await irFromTfjsModel(randomizeWeights(m, 2));
  m.dispose();
  return (await tfjsFineTune(random, { train: data.train, temperature: 1, alpha: 0, epochs: 15, batchSize: 16, learningRate: 0.01, optimizer: 'adam', seed: 1 })).ir;
}

async function prune(ir: ModelIR) {
  const metrics = { ...(await evaluateModel(ir, data, { batchSize: 64, latencySamples: 1, engine: 'tfjs' })), bytes: 1 };
  assert.ok(metrics.valAccuracy >= 0.9, `baseline val ${metrics.valAccuracy}`);
  const ctx = createStageContext({
    data, seed: 42, stageDir: mkdtempSync(path.join(os.tmpdir(), 'slimnet-prune-families-')), baseline: metrics, budget: { maxDrop: 0.05 },
    evaluation: { engine: 'auto', batchSize: 64 },
  });
  // roundTo 1: 6 filters halve to 3 (the default multiple of 4 would keep 4).
  const options = pruneStage.options.parse({ ratio: 0.5, roundTo: 1, calibrationSamples: 64, fineTune: { epochs: 3, batchSize: 16, learningRate: 0.002 } });
  return pruneStage.create(options).run(ir, ctx);
}

async function exportsWithParity(ir: ModelIR): Promise<void> {
  const model = await buildTfjsModel(ir);
  assert.ok((await onnxDiff(model, exportOnnx(ir), 4)) <= 1e-4);
  model.dispose();
}

test('Conv1D filters are pruned through a 1-D stack and its global pool; the model fine-tunes on onnxruntime', async () => {
  const ir = await trained([
    tf.layers.reshape({ targetShape: [6, 6], name: 'rows' }),
    tf.layers.conv1d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'relu', name: 'c1' }),
    tf.layers.conv1d({ filters: 8, kernelSize: 3, activation: 'relu', name: 'c2' }),
    tf.layers.globalAveragePooling1d({ name: 'gap' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
  ]);
  const out = await prune(ir);
  const d = out.details as Record<string, any>;
  assert.equal(inferShapes(out.ir).get('c1')!.at(-1), 4);
  assert.equal(inferShapes(out.ir).get('c2')!.at(-1), 4);
  assert.deepEqual(out.ir.layers.find((l) => l.name === 'head')!.weights[0]!.shape, [4, 3]);
  assert.ok(countParams(out.ir) < countParams(ir));
  assert.equal(d.fineTune.engine, 'ort');
  assert.ok(d.recovery.at(-1).valAccuracy >= 0.8, JSON.stringify(d.recovery));
  await exportsWithParity(out.ir);
});

test('Conv2DTranspose filters are pruned (its kernel [kh, kw, out, in] sliced on both sides); the model fine-tunes on tfjs', async () => {
  const ir = await trained([
    tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'down' }),
    tf.layers.conv2dTranspose({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: 'up' }),
    tf.layers.conv2d({ filters: 4, kernelSize: 3, activation: 'relu', name: 'mix' }),
    tf.layers.flatten({ name: 'flat' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
  ]);
  const out = await prune(ir);
  const d = out.details as Record<string, any>;
  const up = out.ir.layers.find((l) => l.name === 'up')!;
  assert.deepEqual(up.weights[0]!.shape, [3, 3, 3, 3]); // [kh, kw, out 6 → 3, in 6 → 3]
  assert.equal(up.keras.filters, 3);
  assert.match(d.fineTune.engine, /^tfjs/);
  assert.ok(d.recovery.at(-1).valAccuracy >= 0.8, JSON.stringify(d.recovery));
  await exportsWithParity(out.ir);
});
