/**
 * `npm run bench:quantize`: the quantize stage on a trained depthwise-heavy net — the MobileNet-style digits model
 * the int8 TFLite tests use (stem conv + BN, two depthwise-separable blocks with BN, a depth-multiplier depthwise
 * conv, pooled heads; 3,978 params) — under the options the issue compares: per-channel int8, per-tensor int8,
 * per-tensor uint8 alone and with the fallback. Each row is the stage's verdict and its artifacts measured as
 * shipped (TF.js in tfjs, ONNX in onnxruntime) on the `mnist` package's digits, against a budget of `--budget`
 * points of validation accuracy, plus the onnxruntime latency the stage measured (float vs quantised, batch 1
 * and 64, interleaved).
 *
 *   tsx bench/quantize.ts [--json] [--budget 1] [--latency-runs 30]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnistPackage } from '../pipeline/data/mnist-package.ts';
import { makeSplits } from '../pipeline/data/splits.ts';
import { initEngine } from '../pipeline/engine.ts';
import { evaluateModel } from '../pipeline/evaluate.ts';
import { readModel } from '../pipeline/io/read-model.ts';
import type { QuantizeDetails } from '../pipeline/quantize/report.ts';
import { createStageContext } from '../pipeline/stage-context.ts';
import { quantizeStage } from '../stages/quantize.ts';

const { values: args } = parseArgs({
  options: { json: { type: 'boolean', default: false }, budget: { type: 'string', default: '1' }, 'latency-runs': { type: 'string', default: '30' } },
});
const log = (line: string) => process.stderr.write(`[bench:quantize] ${line}\n`);
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const MODEL = path.join(root, 'test/pipeline/formats/tflite/trained/mobilenet-digits/model.json');

const CASES: Array<{ name: string; options: Record<string, unknown> }> = [
  { name: 'int8 per-channel', options: { granularity: 'per-channel', fallback: false } },
  { name: 'int8 per-tensor', options: { granularity: 'per-tensor', fallback: false } },
  { name: 'uint8 (per-tensor) alone', options: { weights: 'uint8', fallback: false } },
  { name: 'uint8 + fallback', options: { weights: 'uint8' } },
  { name: 'int8 per-channel + fallback', options: {} },
];

await initEngine('wasm');
const mnist = loadMnistPackage();
const data = makeSplits(mnist.train, mnist.test, { validationFraction: 0.1, seed: 42, describe: {} });
const ir = await readModel(MODEL);
const baseline = { ...(await evaluateModel(ir, data, { batchSize: 256, latencySamples: 1, engine: 'ort' })), bytes: 0 };
const maxDrop = Number(args.budget) / 100;
log(`baseline: val ${(baseline.valAccuracy * 100).toFixed(2)}%, test ${(baseline.testAccuracy * 100).toFixed(2)}%; floor ${((baseline.valAccuracy - maxDrop) * 100).toFixed(2)}%`);

interface Row {
  name: string;
  verdict: string;
  raised: string[];
  details: QuantizeDetails;
}
const rows: Row[] = [];
for (const c of CASES) {
  const stageDir = mkdtempSync(path.join(tmpdir(), 'slimnet-bench-quantize-'));
  try {
    const ctx = createStageContext({ data, seed: 42, stageDir, baseline, budget: { maxDrop }, evaluation: { engine: 'ort', batchSize: 256 }, log: (m) => log(`${c.name}: ${m}`) });
    const out = await quantizeStage.create(quantizeStage.options.parse({ latencyRuns: Number(args['latency-runs']), ...c.options })).run(ir, ctx);
    const details = out.details as unknown as QuantizeDetails;
    rows.push({ name: c.name, verdict: out.verdict?.status ?? 'accepted', raised: details.weights.filter((w) => w.raised).map((w) => `${w.layer} → ${w.stored}`), details });
  } finally {
    rmSync(stageDir, { recursive: true, force: true });
  }
}

const pct = (x: number | undefined) => `${((x ?? 0) * 100).toFixed(2)}%`;
if (args.json) {
  process.stdout.write(`${JSON.stringify({ baseline: { valAccuracy: baseline.valAccuracy, testAccuracy: baseline.testAccuracy }, maxDrop, rows }, null, 2)}\n`);
} else {
  console.log(`mobilenet-digits (${MODEL}), ${data.validation.count} validation / ${data.test.count} test digits; float val ${pct(baseline.valAccuracy)}, ` +
    `floor ${pct(baseline.valAccuracy - maxDrop)} (budget ${args.budget} pt).\n`);
  console.log('| options | verdict | onnx bytes | onnx val | onnx test | tfjs bytes | tfjs val | tfjs test | ONNX shipped | ORT batch 1 / 64 float → quantised ms | kept higher |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const q = r.details.quantized;
    const lat = (r.details.latency ?? []).map((l) => `${l.float.median.toFixed(3)} → ${l.quantized[l.shipped]!.median.toFixed(3)}`).join(' / ');
    console.log(`| ${r.name} | ${r.verdict} | ${q.onnx.bytes.toLocaleString('en-US')} | ${pct(q.onnx.valAccuracy)} | ${pct(q.onnx.testAccuracy)} | ` +
      `${q.tfjs.bytes.toLocaleString('en-US')} | ${pct(q.tfjs.valAccuracy)} | ${pct(q.tfjs.testAccuracy)} | ${r.details.onnxEncoding ?? ''} | ${lat} | ${r.raised.join(', ') || '—'} |`);
  }
  const f = rows[0]!.details.float;
  console.log(`\nfloat: onnx ${f.onnx.bytes.toLocaleString('en-US')} bytes (test ${pct(f.onnx.testAccuracy)}), tfjs ${f.tfjs.bytes.toLocaleString('en-US')} bytes (test ${pct(f.tfjs.testAccuracy)})`);
}
