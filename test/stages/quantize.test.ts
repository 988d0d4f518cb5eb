/**
 * The quantize stage through its artifacts: the TF.js export loads in stock tfjs with manifest quantisation, the ONNX
 * export carries INT8 initialisers + DequantizeLinear (per-channel axis) and passes the ONNX checker, accuracy is
 * measured in each runtime; per-channel int8 keeps a depthwise model whose channel ranges differ where per-tensor
 * does not, and the fallback brings per-tensor uint8 back within the budget.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import type { DataSplits } from '../../pipeline/data/types.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { evaluateModel } from '../../pipeline/evaluate.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { fileLoadHandler } from '../../pipeline/io/tfjs-file-handler.ts';
import type { Metrics } from '../../pipeline/metrics.ts';
import { decodeModel } from '../../pipeline/onnx/proto.ts';
import type { QuantizeDetails, QuantizeTimings } from '../../pipeline/quantize/report.ts';
import { createStageContext } from '../../pipeline/stage-context.ts';
import { quantizeStage } from '../../stages/quantize.ts';
import { needsValidator } from '../helpers/validators.ts';
import { scaledDepthwiseIR } from '../fixtures/scaled-depthwise.ts';
import { barSet } from '../fixtures/sets.ts';
import { tinyModelIR } from '../fixtures/tiny-task.ts';

let data: DataSplits;
const baselines = new Map<ModelIR, Metrics>();

before(async () => {
  await initEngine('wasm');
  data = { train: barSet(60, 1), validation: barSet(90, 2), test: barSet(120, 3), fingerprint: 'bars', describe: {} };
});

async function run(ir: ModelIR, options: Record<string, unknown>, maxAccuracyDrop = 0.02) {
  if (!baselines.has(ir)) baselines.set(ir, { ...(await evaluateModel(ir, data, { batchSize: 64, latencySamples: 1, engine: 'ort' })), bytes: 1 });
  const ctx = createStageContext({
    data, seed: 1, stageDir: mkdtempSync(path.join(os.tmpdir(), 'slimnet-quantize-stage-')), baseline: baselines.get(ir)!, budget: { maxDrop: maxAccuracyDrop },
    evaluation: { engine: 'ort', batchSize: 64 },
  });
  const out = await quantizeStage.create(quantizeStage.options.parse({ latencyRuns: 3, ...options })).run(ir, ctx);
  // Timings (onnxruntime latency rows) live apart from the deterministic details.
  return { out, ctx, details: { ...(out.details as unknown as QuantizeDetails), latency: (out.timings as QuantizeTimings | undefined)?.latency } };
}

const depthwise = scaledDepthwiseIR();

test('per-channel int8: TF.js in stock tfjs with manifest quantisation, ONNX int8 + per-axis DequantizeLinear that the checker passes', async (t) => {
  const { out, ctx, details } = await run(depthwise, { onnxEncoding: 'DequantizeLinear', activations: 'none', fallback: false });
  assert.equal(out.verdict, undefined, JSON.stringify(details.quantized));
  // Channels 1e-3…30 apart: one tfjs uint8 range would round the small ones away; the per-channel error sees it.
  const written = Object.fromEntries(details.weights.map((w) => [`${w.layer}/${w.weight}`, w.tfjs]));
  assert.equal(written['dw/depthwise_kernel'], 'float16', JSON.stringify(written));
  assert.notEqual(written['stem/kernel'], 'uint8');
  assert.equal(written['dense/kernel'], 'uint8', 'a kernel whose channels share a range ships in one byte');
  assert.equal(out.modelJson, 'tfjs/model.json');
  // Every kernel is int8 per channel in the IR; biases stay float32.
  for (const l of out.ir.layers) {
    for (const w of l.weights) assert.equal(w.storage?.dtype, w.shape.length >= 2 ? 'int8' : undefined, `${l.name}/${w.name}`);
  }
  const dw = out.ir.layers.find((l) => l.name === 'dw')!.weights[0]!;
  assert.equal(dw.storage?.dtype === 'int8' && dw.storage.axis, 2);

  // TF.js: a stock file (no slimnet key where the bytes are re-encoded), each kernel in a manifest format.
  const modelJson = JSON.parse(readFileSync(path.join(ctx.stageDir, 'tfjs/model.json'), 'utf8'));
  const entries = modelJson.weightsManifest[0].weights as Array<{ name: string; quantization?: { dtype: string }; slimnet?: unknown }>;
  for (const e of entries.filter((x) => !x.name.endsWith('bias'))) {
    assert.ok(e.quantization, `${e.name} ships quantised`);
    const row = details.weights.find((w) => `${w.layer}/${w.weight}` === e.name)!;
    assert.equal(e.quantization.dtype, row.tfjs, `${e.name}: the report says what was written`);
  }
  const model = await tf.loadLayersModel(fileLoadHandler(path.join(ctx.stageDir, 'tfjs/model.json')));
  model.dispose();

  // ONNX: int8 initialisers behind DequantizeLinear, the per-channel ones with an axis.
  const onnx = decodeModel(readFileSync(path.join(ctx.stageDir, 'onnx/model.onnx')));
  const dq = onnx.graph!.node!.filter((n) => n.opType === 'DequantizeLinear');
  assert.equal(dq.length, 4, 'stem, dw, pw and dense kernels');
  assert.ok(dq.some((n) => n.attribute!.some((a) => a.name === 'axis')));
  assert.ok(Number(onnx.opsetImport![0]!.version) <= 17);
  if (needsValidator(t, 'onnx-checker')) assert.equal(details.quantized.onnx.check?.status, 'passed', JSON.stringify(details.quantized.onnx.check));

  // Measured in each runtime, smaller than float, accuracy kept on this channel-scaled model.
  for (const f of ['tfjs', 'onnx'] as const) {
    assert.ok(details.quantized[f].bytes < details.float[f].bytes, f);
    assert.ok(details.quantized[f].gzipBytes > 0);
    assert.ok(Math.abs(details.quantized[f].testAccuracy! - details.float[f].testAccuracy!) <= 0.02, `${f}: ${JSON.stringify(details)}`);
  }
  assert.equal(details.latency?.length, 2);
  assert.ok(details.latency!.every((l) => l.shipped === 'DequantizeLinear' && l.quantized.DequantizeLinear && !l.quantized['cast-mul']));
  assert.ok(quantizeStage.renderDetails!(out.details!).some((l) => l.includes('| dw/depthwise_kernel |')));
});

test('ONNX weight encoding: Cast+Mul by default, with no timing in the choice; by measured speed with auto: float, DequantizeLinear and Cast+Mul timed side by side; the file holds what was picked', async (t) => {
  assert.equal(quantizeStage.options.parse({}).onnxEncoding, 'cast-mul');
  const { out, ctx, details } = await run(depthwise, { latencyRuns: 5, activations: 'none', onnxEncoding: 'auto' });
  assert.deepEqual(details.latency!.map((l) => l.batch), [1, 64]);
  const shipped = details.latency![0]!.shipped;
  for (const l of details.latency!) {
    assert.ok(l.float.median > 0 && l.quantized.DequantizeLinear!.median > 0 && l.quantized['cast-mul']!.median > 0);
    assert.equal(l.shipped, shipped);
  }
  const ops = decodeModel(readFileSync(path.join(ctx.stageDir, 'onnx/model.onnx'))).graph!.node!.map((n) => n.opType);
  assert.equal(ops.includes('DequantizeLinear'), shipped === 'DequantizeLinear', ops.join());
  const int8 = out.ir.layers.flatMap((l) => l.weights).filter((w) => w.storage?.dtype === 'int8');
  assert.ok(int8.every((w) => (w.storage as { onnx?: string }).onnx === (shipped === 'cast-mul' ? 'cast-mul' : undefined)));
  if (needsValidator(t, 'onnx-checker')) assert.equal(details.quantized.onnx.check?.status, 'passed');
});

test('int8 activations: calibrated on training samples, offered as QDQ; forced, the ONNX file is a static QDQ graph the checker passes', async (t) => {
  const tiny = tinyModelIR();
  const auto = (await run(tiny, { latencyRuns: 3, onnxEncoding: 'auto' })).details;
  assert.deepEqual(auto.calibration, { method: 'minmax', samples: data.train.count });
  assert.ok(auto.onnxCandidates?.qdq && auto.onnxCandidates.DequantizeLinear, JSON.stringify(auto.onnxCandidates));
  assert.ok(auto.latency!.every((l) => l.quantized[l.shipped]));
  const { out, ctx, details } = await run(tiny, { onnxEncoding: 'qdq', calibration: { method: 'percentile', percentile: 99.9 } });
  assert.equal(out.verdict, undefined, JSON.stringify(details.quantized));
  assert.equal(details.onnxEncoding, 'qdq');
  assert.equal(out.ir.calibration?.onnxQdq, true);
  assert.equal(out.ir.calibration?.method, 'percentile');
  // reduceRange (default): 7-bit weight codes, which onnxruntime's u8s8 kernels cannot overflow.
  const int8 = out.ir.layers.flatMap((l) => l.weights).flatMap((w) => (w.storage?.dtype === 'int8' ? [w.storage.codes] : []));
  assert.ok(int8.length > 0 && int8.every((codes) => codes.every((c) => Math.abs(c) <= 63)));
  const ops = decodeModel(readFileSync(path.join(ctx.stageDir, 'onnx/model.onnx'))).graph!.node!.map((n) => n.opType);
  assert.ok(ops.includes('QuantizeLinear') && ops.includes('DequantizeLinear'), ops.join());
  if (needsValidator(t, 'onnx-checker')) assert.equal(details.quantized.onnx.check?.status, 'passed', JSON.stringify(details.quantized.onnx.check));
  assert.equal(quantizeStage.options.safeParse({ activations: 'none', onnxEncoding: 'qdq' }).success, false);
});

test('per-channel int8 is at least as accurate as per-tensor on the channel-scaled depthwise model, and per-tensor alone misses', async () => {
  const perChannel = (await run(depthwise, { fallback: false })).details;
  const perTensor = await run(depthwise, { granularity: 'per-tensor', fallback: false });
  assert.ok(perChannel.quantized.onnx.valAccuracy >= perTensor.details.quantized.onnx.valAccuracy);
  assert.ok(perChannel.quantized.onnx.valAccuracy > perTensor.details.quantized.onnx.valAccuracy + 0.2, 'one range rounds the small channels away');
  assert.equal(perTensor.out.verdict?.status, 'rejected');
});

test('fallback: per-tensor uint8 misses the budget alone; the costliest layers go to higher precision until it holds', async () => {
  const alone = await run(depthwise, { weights: 'uint8', fallback: false });
  assert.equal(alone.out.verdict?.status, 'rejected');
  const { out, details } = await run(depthwise, { weights: 'uint8' });
  assert.equal(out.verdict, undefined, JSON.stringify(details, null, 1));
  const raised = details.weights.filter((w) => w.raised);
  assert.ok(raised.length > 0 && raised.length < details.weights.length, 'some layers stay uint8');
  assert.ok(raised.every((w) => w.sensitivity), 'each raised weight has its measured cost');
  assert.ok(raised.some((w) => w.layer === 'dw' || w.layer === 'stem'));
  assert.ok(details.fallbackSteps.length > 0);
});

test('layers overrides: a glob keeps layers float32; a pattern that matches nothing is a config error', async () => {
  const { out } = await run(depthwise, { layers: { 'd*': 'float32' }, latencyRuns: 0 });
  assert.equal(out.ir.layers.find((l) => l.name === 'dw')!.weights[0]!.storage, undefined);
  assert.equal(out.ir.layers.find((l) => l.name === 'dense')!.weights[0]!.storage, undefined);
  assert.equal(out.ir.layers.find((l) => l.name === 'pw')!.weights[0]!.storage?.dtype, 'int8');
  await assert.rejects(run(depthwise, { layers: { nope: 'uint16' } }), (e: Error & { oneLine?(): string }) => /layers\["nope"\].*matches no/.test(e.oneLine?.() ?? ''));
});
