/**
 * The export stage's TFLite format: written, loaded back from disk in the TFLite runtime and held to the float bar
 * beside TF.js and ONNX, with every format's batch-1 latency measured side by side; and when the runtime is not
 * installed, "written, not verified" — a failed verdict (exit class 1) unless the options allow it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { before, test } from 'node:test';
import { calibrateActivations, calibrationSamples } from '../../pipeline/activation-calibration.ts';
import type { DataSplits } from '../../pipeline/data/types.ts';
import { FORMATS } from '../../pipeline/formats/index.ts';
import { exportTflite } from '../../pipeline/formats/tflite/export.ts';
import { TensorType } from '../../pipeline/formats/tflite/model-spec.ts';
import { readTflite } from '../../pipeline/formats/tflite/read.ts';
import { loadTfliteRuntime } from '../../pipeline/formats/tflite/runtime.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { exportStage, runExport, type FormatOutcome } from '../../stages/export.ts';
import { exportTask, type ExportTask } from '../fixtures/export-task.ts';
import { needsValidator } from '../helpers/validators.ts';

let ir: ModelIR;
let data: DataSplits;
let context: ExportTask['context'];

before(async () => {
  ({ ir, data, context } = await exportTask('slimnet-export-tflite-'));
});

const formats = (out: { details?: Record<string, unknown> }) => (out.details as { formats: Record<string, FormatOutcome> }).formats;

test('formats tfjs, onnx and tflite: each verified in its runtime, sized, and timed side by side', async (t) => {
  if (!needsValidator(t, 'tflite-runtime')) return;
  const ctx = context();
  const opts = exportStage.options.parse({ formats: ['tfjs', 'onnx', 'tflite'], latencyRuns: 5 });
  const out = await exportStage.create(opts).run(ir, ctx);
  assert.equal(out.verdict, undefined);
  assert.equal(out.exports!.tflite, 'tflite/model.tflite');
  const file = path.join(ctx.stageDir, 'tflite/model.tflite');
  assert.equal(readTflite(new Uint8Array(readFileSync(file))).fileIdentifier, 'TFL3');
  const tflite = formats(out).tflite!;
  assert.deepEqual([tflite.verified, tflite.expectation, tflite.bytes], [true, 'float', statSync(file).size]);
  assert.equal(tflite.parity!.top1Agreement, 1);
  assert.ok(tflite.parity!.maxAbsDiff <= 1e-4);
  assert.equal(tflite.parity!.accuracy, tflite.parity!.referenceAccuracy);
  for (const [id, f] of Object.entries(formats(out))) {
    assert.equal(f.latencyMs?.runs, 5, id);
    assert.ok(f.latencyMs!.p25 <= f.latencyMs!.median && f.latencyMs!.median <= f.latencyMs!.p75, id);
  }
  const rendered = exportStage.renderDetails!(out.details!).join('\n');
  assert.match(rendered, /\| tflite \| [\d,]+ \| float \| 100\.00% \|/);
});

test('without the TFLite runtime the file is written, reported "written, not verified", and the stage fails (exit class 1)', async () => {
  const missing = loadTfliteRuntime('tfjs-tflite-node-not-installed');
  assert.equal(missing.available, false);
  const reason = missing.available ? '' : missing.reason;
  const registry = { ...FORMATS, tflite: { ...FORMATS.tflite!, unavailable: () => reason } };
  const ctx = context();
  const out = await runExport(ir, ctx, exportStage.options.parse({ formats: ['tfjs', 'tflite'], latencyRuns: 0 }) as never, registry);
  assert.ok(existsSync(path.join(ctx.stageDir, 'tflite/model.tflite')));
  const tflite = formats(out).tflite!;
  assert.deepEqual([tflite.verified, tflite.parity, tflite.unverifiedBecause], [false, undefined, reason]);
  const verdict = out.verdict as { status: string; exitClass: number; reason: string };
  assert.deepEqual([verdict.status, verdict.exitClass], ['failed', 1]);
  assert.match(verdict.reason, /^tflite export \(tflite\/model\.tflite\): written, not verified: tfjs-tflite-node-not-installed is not installed .*allowUnverified: true/);
  assert.match(exportStage.renderDetails!(out.details!).join('\n'), /\| tflite \| [\d,]+ \| float \(FAILED\) \| written, not verified: /);

  const allowed = await runExport(ir, context(), exportStage.options.parse({ formats: ['tflite'], latencyRuns: 0, allowUnverified: true }) as never, registry);
  assert.equal(allowed.verdict, undefined);
  assert.deepEqual(allowed.notes, [`tflite: written, not verified (${reason})`]);
});

test('tflite-int8 beside tflite: calibrated on training samples, a quantised artifact held to the budget floor', async (t) => {
  if (!needsValidator(t, 'tflite-runtime')) return;
  const ctx = context();
  const opts = exportStage.options.parse({ formats: ['tflite', 'tflite-int8'], latencyRuns: 3, 'tflite-int8': { calibration: { samples: 20 } } });
  const out = await exportStage.create(opts).run(ir, ctx);
  assert.equal(out.verdict, undefined);
  assert.equal(out.exports!['tflite-int8'], 'tflite/model-int8.tflite');
  assert.equal(out.notes![0], 'tflite-int8: activation ranges calibrated here (minmax over 20 training samples)');
  const int8 = formats(out)['tflite-int8']!;
  const float = formats(out).tflite!;
  // Said exactly when it is so: int8 kernels are not faster everywhere.
  const slower = out.notes!.filter((n) => n.startsWith('tflite-int8: slower than tflite in the same runtime (tflite ('));
  assert.equal(slower.length, int8.latencyMs!.median > float.latencyMs!.median ? 1 : 0, JSON.stringify([out.notes, int8.latencyMs, float.latencyMs]));
  assert.equal(out.notes!.length, 1 + slower.length);
  assert.deepEqual([int8.verified, int8.expectation], [true, 'quantized']);
  assert.ok(int8.validation!.accuracy >= int8.validation!.floor, JSON.stringify(int8.validation));
  assert.equal(int8.bytes, statSync(path.join(ctx.stageDir, 'tflite/model-int8.tflite')).size);
  const types = readTflite(new Uint8Array(readFileSync(path.join(ctx.stageDir, 'tflite/model-int8.tflite')))).graph.tensors.map((x) => x.type);
  assert.ok(types.includes(TensorType.INT8));
  assert.equal(int8.latencyMs?.runs, 3);
});

test('tflite-int8 uses the model\'s own calibration (what the quantize stage measured), and recalibrates a stale one', async (t) => {
  if (!needsValidator(t, 'tflite-runtime')) return;
  const opts = exportStage.options.parse({ formats: ['tflite-int8'], latencyRuns: 0 });
  const own = await calibrateActivations(ir, calibrationSamples(data.train, 7, 3));
  const first = context();
  const written = await exportStage.create(opts).run({ ...ir, calibration: own }, first);
  assert.deepEqual(written.notes, ['tflite-int8: activation ranges from the model\'s calibration (minmax over 7 training samples)']);
  const file = new Uint8Array(readFileSync(path.join(first.stageDir, 'tflite/model-int8.tflite')));
  assert.deepEqual(file, exportTflite(ir, { numerics: 'int8', ranges: own.ranges }), 'scaled by exactly those ranges');
  const stale = await exportStage.create(opts).run({ ...ir, calibration: { ...own, modelDigest: 'another model' } }, context());
  assert.deepEqual(stale.notes, [
    'tflite-int8: activation ranges calibrated here (minmax over 40 training samples; the model\'s own calibration was measured before a later stage changed it)',
  ]);
});
