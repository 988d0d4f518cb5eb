/**
 * Training speed of the example CNN: samples/s and ms/sample for model.fit (adam, batch 64, random data).
 * Usage: tsx bench/train-speed.ts [--backend wasm|cpu|tfjs-node|auto] [--samples 1024] [--runs 5]
 * Prints the median of `runs` timed epochs after one warm-up epoch.
 */
import * as tf from '@tensorflow/tfjs';
import { parseArgs } from 'node:util';
import { initEngine, type BackendRequest } from '../pipeline/engine.ts';
import { buildExampleModel } from '../examples/mnist-cnn/model.ts';

const { values } = parseArgs({
  options: {
    backend: { type: 'string', default: 'wasm' },
    samples: { type: 'string', default: '1024' },
    runs: { type: 'string', default: '5' },
  },
});
const backend = await initEngine(values.backend as BackendRequest);
const samples = Number(values.samples);
const runs = Number(values.runs);
const batchSize = 64;

const model = buildExampleModel(1);
model.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
const x = tf.randomUniform([samples, 28, 28, 1], 0, 1, 'float32', 2);
const y = tf.tensor1d(Array.from({ length: samples }, (_, i) => (i * 7) % 10), 'float32');

async function epochSeconds(): Promise<number> {
  const start = performance.now();
  await model.fit(x, y, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
  return (performance.now() - start) / 1000;
}

await epochSeconds(); // warm-up: kernel setup, weight allocation, optimizer slots
const times: number[] = [];
for (let i = 0; i < runs; i++) times.push(await epochSeconds());
times.sort((a, b) => a - b);
const median = times[Math.floor(times.length / 2)]!;
const msPerSample = (median * 1000) / samples;
console.log(
  `train-speed backend=${backend} batch=${batchSize} samples/run=${samples} runs=${runs}: ` +
    `${msPerSample.toFixed(2)} ms/sample, ${(samples / median).toFixed(0)} samples/s (median; runs ${times.map((t) => t.toFixed(2)).join(', ')} s)`,
);
