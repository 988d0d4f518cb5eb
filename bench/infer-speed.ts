/**
 * Inference throughput of the example CNN (Conv2D(32,3x3,relu) → MaxPool 2x2 → Flatten → Dense 128 relu →
 * Dense 10 softmax on 28x28x1, random weights): tfjs on wasm vs the ONNX export on onnxruntime-node.
 * Usage: tsx bench/infer-speed.ts [--samples 2048] [--batch 256] [--runs 5]
 * Prints the median samples/s over `runs` timed passes after one warm-up pass, the outputs' parity, and the
 * batch-1 latency through each engine's Predictor (the public API; report.json's latency times onnxruntime's Run, see
 * pipeline/measure/model-latency.ts).
 */
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../pipeline/engine.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { exportOnnx } from '../pipeline/onnx/export.ts';
import { layersModelPredictor, type Predictor } from '../pipeline/evaluate.ts';
import { createOrtSession, ortPredictor, predictOrt } from '../pipeline/onnx/ort.ts';
import { checkParity } from '../pipeline/parity.ts';
import { exampleCnn } from '../test/fixtures/models.ts';

const { values } = parseArgs({
  options: {
    samples: { type: 'string', default: '2048' },
    batch: { type: 'string', default: '256' },
    runs: { type: 'string', default: '5' },
  },
});
const samples = Number(values.samples);
const batchSize = Number(values.batch);
const runs = Number(values.runs);

await initEngine('wasm');
const model = exampleCnn(1);
const sampleShape = [28, 28, 1];
const xTensor = tf.randomUniform([samples, ...sampleShape], 0, 1, 'float32', 3);
const x = (await xTensor.data()) as Float32Array;
xTensor.dispose();

async function predictTfjs(): Promise<Float32Array> {
  const out = new Float32Array(samples * 10);
  const size = 28 * 28;
  for (let start = 0; start < samples; start += batchSize) {
    const n = Math.min(batchSize, samples - start);
    const y = tf.tidy(() => model.predict(tf.tensor(x.subarray(start * size, (start + n) * size), [n, ...sampleShape])) as tf.Tensor);
    out.set((await y.data()) as Float32Array, start * 10);
    y.dispose();
  }
  return out;
}

async function medianRate(run: () => Promise<Float32Array>): Promise<{ rate: number; out: Float32Array }> {
  let out = await run(); // warm-up
  const rates: number[] = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    out = await run();
    rates.push(samples / ((performance.now() - start) / 1000));
  }
  rates.sort((a, b) => a - b);
  return { rate: rates[Math.floor(rates.length / 2)], out };
}

const bytes = exportOnnx(await irFromTfjsModel(model));
const tfjs = await medianRate(predictTfjs);
console.log(`tfjs ${tf.getBackend()}: ${tfjs.rate.toFixed(0)} samples/s (batch ${batchSize}, ${samples} samples, median of ${runs})`);
for (const threads of [1, undefined]) {
  const session = await createOrtSession(bytes, { threads });
  const ort = await medianRate(() => predictOrt(session, { x, sampleShape }, batchSize));
  const parity = checkParity({ reference: tfjs.out, candidate: ort.out, samples });
  console.log(
    `onnxruntime-node (${threads ?? 'default'} threads): ${ort.rate.toFixed(0)} samples/s, ` +
      `${(ort.rate / tfjs.rate).toFixed(1)}x tfjs; parity vs tfjs: top-1 ${(parity.top1Agreement * 100).toFixed(2)}%, max |Δ| ${parity.maxAbsDiff.toExponential(2)}`,
  );
  await session.release();
}

/** Mean ms per single-sample predict over 200 calls after 20 warm-up calls. */
async function batchOneLatencyMs(predictor: Predictor): Promise<number> {
  const size = 28 * 28;
  const sample = (i: number) => x.subarray(i * size, (i + 1) * size);
  for (let i = 0; i < 20; i++) await predictor.predict(sample(i), 1, sampleShape);
  const start = performance.now();
  for (let i = 0; i < 200; i++) await predictor.predict(sample(i % samples), 1, sampleShape);
  return (performance.now() - start) / 200;
}
const tfjsLatency = await batchOneLatencyMs(layersModelPredictor(model));
const ortSingle = ortPredictor(await createOrtSession(bytes, { threads: 1 }));
const ortLatency = await batchOneLatencyMs(ortSingle);
ortSingle.dispose();
console.log(`batch-1 latency: tfjs ${tf.getBackend()} ${tfjsLatency.toFixed(3)} ms, onnxruntime-node (1 thread) ${ortLatency.toFixed(3)} ms`);
