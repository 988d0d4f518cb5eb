/**
 * Pruning and export together, on the graph shapes users say break other tools: a residual Add with
 * BatchNormalization and a Concatenate. The pruned model must be smaller, and its ONNX export must still match
 * tfjs on onnxruntime — no channel bookkeeping may differ between the two.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import type { DataSplits, LabelledSet } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { createPredictor, measureQuality, predictSet } from '../../pipeline/evaluate.ts';
import { inferShapes } from '../../pipeline/graph/shapes.ts';
import { countParams, type ModelIR } from '../../pipeline/ir.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import type { Metrics } from '../../pipeline/metrics.ts';
import { checkParity } from '../../pipeline/parity.ts';
import { createRng } from '../../pipeline/random.ts';
import type { StageContext } from '../../pipeline/stage.ts';
import { createStageContext } from '../../pipeline/stage-context.ts';
import { exportStage } from '../../stages/export.ts';
import { pruneStage } from '../../stages/prune.ts';
import { functionalResidual } from '../fixtures/models.ts';

let ir: ModelIR;
let data: DataSplits;

function randomSet(count: number, seed: number): LabelledSet {
  const rng = createRng(seed);
  return {
    x: Float32Array.from({ length: count * 8 * 8 * 3 }, () => rng.next() * 2 - 1),
    y: Int32Array.from({ length: count }, () => rng.int(3)),
    count,
    sampleShape: [8, 8, 3],
    numClasses: 3,
  };
}

before(async () => {
  await initEngine('wasm');
  const model = functionalResidual();
  ir = await irFromTfjsModel(model);
  model.dispose();
  data = { train: randomSet(64, 1), validation: randomSet(32, 2), test: randomSet(48, 3), fingerprint: 'random', describe: {} };
});

function context(): StageContext {
  const metrics: Metrics = { valAccuracy: 0, testAccuracy: 0, loss: 0, params: 0, bytes: 0, macs: 0, latencyMs: 0 };
  return createStageContext({
    data, seed: 1, stageDir: mkdtempSync(path.join(os.tmpdir(), 'slimnet-prune-export-')), baseline: metrics, budget: { maxDrop: 0.5 },
    evaluation: { engine: 'tfjs', batchSize: 64 },
  });
}

test('a pruned residual + BN + Concatenate model exports to TF.js and ONNX with parity', async () => {
  const prune = pruneStage.create(pruneStage.options.parse({ ratio: 0.5, search: false, fineTune: false, calibrationSamples: 64, roundTo: 1 }));
  const pruned = (await prune.run(ir, context())).ir;
  assert.ok(countParams(pruned) < countParams(ir), `${countParams(pruned)} vs ${countParams(ir)}`);
  // The residual group (conv_a, bn_a, proj, the Add) shrinks as one, and the Concatenate's offsets follow.
  const shapes = inferShapes(pruned);
  assert.equal(shapes.get('conv_a')!.at(-1), shapes.get('proj')!.at(-1));
  assert.ok(shapes.get('residual')!.at(-1)! < 4);
  assert.equal(shapes.get('cat')!.at(-1), shapes.get('residual')!.at(-1)! + shapes.get('side')!.at(-1)!);

  // The export stage itself checks parity for both formats (a miss is a failed verdict).
  const out = await exportStage.create(exportStage.options.parse({})).run(pruned, context());
  assert.equal(out.verdict, undefined, out.verdict?.status === 'failed' ? out.verdict.reason : '');
  const parity = (out.details as { parity: Record<string, { top1Agreement: number; maxAbsDiff: number }> }).parity;
  assert.deepEqual(Object.keys(parity).sort(), ['onnx', 'tfjs']);
  for (const [format, p] of Object.entries(parity)) {
    assert.equal(p.top1Agreement, 1, format);
    assert.ok(p.maxAbsDiff <= 1e-5, `${format} max |Δ| ${p.maxAbsDiff}`);
  }

  // And directly: the in-memory ONNX of the pruned IR against tfjs.
  const [ort, tfjs] = [await createPredictor(pruned, 'ort'), await createPredictor(pruned, 'tfjs')];
  const report = checkParity({ reference: await predictSet(tfjs, data.test, 16), candidate: await predictSet(ort, data.test, 16), samples: data.test.count });
  ort.dispose();
  tfjs.dispose();
  assert.ok(report.maxAbsDiff <= 1e-5, String(report.maxAbsDiff));
});
