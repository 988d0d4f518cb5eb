/**
 * The export stage over the format registry: per-format options reach the writers, each artifact is sized, checked by
 * its official checker and loaded back; a miss is a failed verdict (exit class 1), never a throw.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import type { DataSplits } from '../../pipeline/data/types.ts';
import { FORMAT_IDS, FORMATS } from '../../pipeline/formats/index.ts';
import { runOnnxCheckerOn } from '../../pipeline/formats/onnx-checker.ts';
import { needsValidator } from '../helpers/validators.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { decodeModel } from '../../pipeline/onnx/proto.ts';
import { exportStage, parityProblem, type FormatOutcome } from '../../stages/export.ts';
import { exportTask, type ExportTask } from '../fixtures/export-task.ts';

let ir: ModelIR;
let data: DataSplits;
let context: ExportTask['context'];

before(async () => {
  ({ ir, data, context } = await exportTask('slimnet-export-stage-'));
});

test('every registered format has an id matching its key, an artifact path and options that default from {}', () => {
  assert.deepEqual(FORMAT_IDS, Object.keys(FORMATS));
  for (const [key, format] of Object.entries(FORMATS)) {
    assert.equal(format.id, key);
    assert.ok(!path.isAbsolute(format.artifact) && !format.artifact.startsWith('..'), format.artifact);
    assert.doesNotThrow(() => format.options.parse({}), key);
  }
});

test('each format is written, sized, checked and loaded back; format options are nested under the format id', async (t) => {
  const ctx = context();
  const out = await exportStage.create(exportStage.options.parse({ onnx: { opset: 15 } })).run(ir, ctx);
  assert.equal(out.verdict, undefined);
  assert.deepEqual(out.exports, { tfjs: 'tfjs/model.json', onnx: 'onnx/model.onnx' });
  assert.equal(out.modelJson, 'tfjs/model.json');
  const formats = (out.details as { formats: Record<string, FormatOutcome> }).formats;
  const onnxFile = path.join(ctx.stageDir, 'onnx/model.onnx');
  assert.equal(formats.onnx!.bytes, statSync(onnxFile).size);
  assert.equal(Number(decodeModel(await readFile(onnxFile)).opsetImport[0]!.version), 15);
  if (needsValidator(t, 'onnx-checker')) assert.equal(formats.onnx!.check?.status, 'passed', JSON.stringify(formats.onnx!.check));
  assert.equal(formats.tfjs!.check, undefined, 'tfjs has no official checker');
  for (const f of Object.values(formats)) {
    assert.equal(f.expectation, 'float');
    assert.equal(f.verified, true);
    assert.equal(f.parity!.samples, data.test.count);
    assert.equal(f.parity!.top1Agreement, 1);
    assert.equal(f.problem, undefined);
  }
  assert.equal(formats.tfjs!.parity!.maxAbsDiff, 0, 'the TF.js artifact is the model, bit for bit');
});

test('options: an unknown format or option is rejected; a format may be listed once', () => {
  assert.match(exportStage.options.safeParse({ formats: ['coreml'] }).error!.issues[0]!.message, /tfjs/);
  assert.equal(exportStage.options.safeParse({ onnx: { opset: 12 } }).success, false);
  assert.equal(exportStage.options.safeParse({ onnx: { nope: 1 } }).success, false);
  assert.equal(exportStage.options.safeParse({ formats: ['onnx', 'onnx'] }).success, false);
});

test('parity expectations: float formats are held to agreement and |Δ|, quantised ones to the budget floor', () => {
  const opts = { minTop1Agreement: 0.999, maxAbsDiff: 1e-4 };
  const parity = { samples: 1000, top1Agreement: 0.998, maxAbsDiff: 1e-6 };
  assert.match(parityProblem(parity, { kind: 'float' }, undefined, opts)!, /top-1 agreement 99\.80% \(need ≥ 99\.90%\)/);
  assert.equal(parityProblem({ ...parity, top1Agreement: 0.999 }, { kind: 'float' }, undefined, opts), undefined);
  assert.match(parityProblem({ ...parity, top1Agreement: 1, maxAbsDiff: 2e-3 }, { kind: 'float' }, undefined, opts)!, /2\.00e-3/);
  const int8 = { kind: 'quantized', why: 'int8' } as const;
  assert.equal(parityProblem({ ...parity, top1Agreement: 0.9 }, int8, { accuracy: 0.95, floor: 0.95 }, opts), undefined);
  assert.match(parityProblem(parity, int8, { accuracy: 0.94, floor: 0.95 }, opts)!, /below the budget floor 0\.9500/);
});

test('the ONNX checker: a missing interpreter is "unavailable", never a failure', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-checker-'));
  const bad = path.join(dir, 'bad.onnx');
  writeFileSync(bad, new Uint8Array([8, 99, 18, 3, 120, 121, 122]));
  const [missing] = await runOnnxCheckerOn([bad], ['/nonexistent/python3']);
  assert.equal(missing!.status, 'unavailable');
  assert.match((missing as { message: string }).message, /\/nonexistent\/python3/);
});

test('the ONNX checker: failures carry its message', async (t) => {
  const python = needsValidator(t, 'onnx-checker');
  if (!python) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-checker-'));
  const bad = path.join(dir, 'bad.onnx');
  writeFileSync(bad, new Uint8Array([8, 99, 18, 3, 120, 121, 122]));
  const [result] = await runOnnxCheckerOn([bad], [python]);
  assert.equal(result!.status, 'failed');
  assert.match(result!.checker, /^onnx\.checker 1\./);
});
