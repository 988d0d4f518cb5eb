/**
 * `npm run bench:tflite`: TFLite float32 and full-integer int8 beside TF.js and ONNX, per model — bytes as written,
 * test accuracy of each artifact loaded in its own runtime (all 2,000 test digits of the `mnist` package), and
 * batch-1 latency (median with quartiles of interleaved runs). Models: the bundled example and the two trained
 * held-out-style nets the int8 tests use (a residual net with BN; a MobileNet-style depthwise net). int8 is
 * calibrated by min/max on 1,024 seeded training digits (pipeline/activation-calibration.ts).
 *
 *   tsx bench/tflite.ts [--json] [--runs 200]
 */
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { calibrateActivations, calibrationSamples } from '../pipeline/activation-calibration.ts';
import { loadMnistPackage } from '../pipeline/data/mnist-package.ts';
import { initEngine } from '../pipeline/engine.ts';
import { measureQuality, tfjsPredictor, type Predictor } from '../pipeline/evaluate.ts';
import { exportTflite } from '../pipeline/formats/tflite/export.ts';
import { tflitePredictor } from '../pipeline/formats/tflite/runtime.ts';
import { readModel } from '../pipeline/io/read-model.ts';
import { writeModel } from '../pipeline/io/write-model.ts';
import { comparePredictorLatency, type LatencyStats } from '../pipeline/measure/latency.ts';
import { exportOnnx } from '../pipeline/onnx/export.ts';
import { createOrtSession, ortPredictor } from '../pipeline/onnx/ort.ts';

const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false }, runs: { type: 'string', default: '200' } } });
const log = (line: string) => process.stderr.write(`[bench:tflite] ${line}\n`);
const root = path.dirname(path.dirname(new URL(import.meta.url).pathname));
const MODELS: Record<string, string> = {
  example: path.join(root, 'examples/mnist-cnn/model/model.json'),
  'residual-digits': path.join(root, 'test/pipeline/formats/tflite/trained/residual-digits/model.json'),
  'mobilenet-digits': path.join(root, 'test/pipeline/formats/tflite/trained/mobilenet-digits/model.json'),
};

interface Row {
  model: string;
  format: string;
  bytes: number;
  testAccuracy: number;
  latencyMs: LatencyStats;
}

await initEngine('wasm');
const mnist = loadMnistPackage();
const rows: Row[] = [];
for (const [model, file] of Object.entries(MODELS)) {
  const ir = await readModel(file);
  const dir = mkdtempSync(path.join(tmpdir(), 'slimnet-bench-tflite-'));
  await writeModel(ir, path.join(dir, 'tfjs'));
  const tfjsBytes = readdirSync(path.join(dir, 'tfjs')).reduce((n, f) => n + statSync(path.join(dir, 'tfjs', f)).size, 0);
  const onnx = exportOnnx(ir);
  const float = exportTflite(ir);
  const calibration = await calibrateActivations(ir, calibrationSamples(mnist.train, 1024, 42));
  const int8 = exportTflite(ir, { numerics: 'int8', ranges: calibration.ranges });
  writeFileSync(path.join(dir, 'model.tflite'), float);
  writeFileSync(path.join(dir, 'model-int8.tflite'), int8);
  const artifacts: Array<{ format: string; bytes: number; predictor: Predictor }> = [
    { format: 'tfjs (wasm)', bytes: tfjsBytes, predictor: await tfjsPredictor(ir) },
    { format: 'onnx (onnxruntime-node)', bytes: onnx.length, predictor: ortPredictor(await createOrtSession(onnx, { threads: 1 })) },
    { format: 'tflite float32', bytes: float.length, predictor: tflitePredictor(float, { threads: 1 }) },
    { format: 'tflite int8', bytes: int8.length, predictor: tflitePredictor(int8, { threads: 1 }) },
  ];
  const latencies = await comparePredictorLatency(artifacts.map((a) => a.predictor), mnist.test, Number(args.runs));
  for (const [i, a] of artifacts.entries()) {
    const { accuracy } = await measureQuality(a.predictor, mnist.test, 256);
    rows.push({ model, format: a.format, bytes: a.bytes, testAccuracy: accuracy, latencyMs: latencies[i]! });
    log(`${model} ${a.format}: ${a.bytes} bytes, test ${(accuracy * 100).toFixed(2)}%, ${latencies[i]!.median.toFixed(3)} ms`);
    a.predictor.dispose();
  }
}

if (args.json) {
  process.stdout.write(`${JSON.stringify({ testSamples: mnist.test.count, rows }, null, 2)}\n`);
} else {
  console.log(`Test accuracy on ${mnist.test.count} digits; latency: median batch-1 ms (q1–q3) of ${args.runs} interleaved runs, one thread.\n`);
  console.log('| model | format | bytes | × float32 tflite | test accuracy | latency ms |');
  console.log('|---|---|---|---|---|---|');
  for (const r of rows) {
    const base = rows.find((x) => x.model === r.model && x.format === 'tflite float32')!.bytes;
    const l = r.latencyMs;
    console.log(`| ${r.model} | ${r.format} | ${r.bytes.toLocaleString('en-US')} | ${(r.bytes / base).toFixed(2)} | ${(r.testAccuracy * 100).toFixed(2)}% | ` +
      `${l.median.toFixed(3)} (${l.p25.toFixed(3)}–${l.p75.toFixed(3)}) |`);
  }
}
