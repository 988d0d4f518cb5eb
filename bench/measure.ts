/**
 * One bench figure per (model, engine, task): `runs` timed passes after a warm-up, median ms per sample. Training
 * is forward + backward + Adam on batches of 64; inference runs batches of 256. Data is seeded random.
 */
import * as tf from '@tensorflow/tfjs';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { createOrtSession, predictOrt } from '../pipeline/onnx/ort.ts';
import { exportOnnx } from '../pipeline/onnx/export.ts';
import { createRng } from '../pipeline/random.ts';
import { OrtTrainer } from '../pipeline/train/ort/trainer.ts';
import { buildBenchModel, type BenchModel } from './models.ts';

export type Task = 'train' | 'infer';

export interface Plan {
  /** Batches per timed run, and timed runs (after one warm-up run). */
  batchesPerRun: number;
  runs: number;
}

export interface Figure {
  batch: number;
  msPerSample: number;
  samplesPerSecond: number;
}

export const TRAIN_BATCH = 64;
export const INFER_BATCH = 256;
const SAMPLE = [28, 28, 1];
const SAMPLE_SIZE = 28 * 28;

function randomData(batches: number, batch: number, seed: number): { x: Float32Array; y: Int32Array } {
  const rng = createRng(seed);
  const n = batches * batch;
  return { x: Float32Array.from({ length: n * SAMPLE_SIZE }, () => rng.next()), y: Int32Array.from({ length: n }, () => rng.int(10)) };
}

/**
 * Median ms/sample over `plan.runs` runs, after one untimed run. A run is `calls` calls of `step(i)`, each
 * processing `samplesPerCall` samples in batches of `batch`.
 */
async function timeRuns(plan: Plan, batch: number, step: (i: number) => Promise<void>, calls = plan.batchesPerRun, samplesPerCall = batch): Promise<Figure> {
  const run = async () => {
    const start = performance.now();
    for (let i = 0; i < calls; i++) await step(i);
    return (performance.now() - start) / (calls * samplesPerCall);
  };
  await run();
  const times: number[] = [];
  for (let r = 0; r < plan.runs; r++) times.push(await run());
  times.sort((a, b) => a - b);
  const msPerSample = times[Math.floor(times.length / 2)]!;
  return { batch, msPerSample, samplesPerSecond: 1000 / msPerSample };
}

export async function measureOrt(model: BenchModel, task: Task, plan: Plan, threads: number): Promise<Figure> {
  const tfModel = buildBenchModel(model);
  const ir = await irFromTfjsModel(tfModel);
  tfModel.dispose();
  if (task === 'train') {
    const { x, y } = randomData(plan.batchesPerRun, TRAIN_BATCH, 2);
    const trainer = await OrtTrainer.create(ir, { optimizer: { name: 'adam' }, learningRate: 1e-3, threads });
    try {
      return await timeRuns(plan, TRAIN_BATCH, async (i) => {
        await trainer.step({ x: x.subarray(i * TRAIN_BATCH * SAMPLE_SIZE), y: y.subarray(i * TRAIN_BATCH), size: TRAIN_BATCH });
      });
    } finally {
      await trainer.release();
    }
  }
  const { x } = randomData(plan.batchesPerRun, INFER_BATCH, 3);
  const session = await createOrtSession(exportOnnx(ir), { threads });
  try {
    // predictOrt cuts the whole set into batches of INFER_BATCH: one call is one run.
    return await timeRuns(plan, INFER_BATCH, async () => {
      await predictOrt(session, { x, sampleShape: SAMPLE }, INFER_BATCH);
    }, 1, INFER_BATCH * plan.batchesPerRun);
  } finally {
    await session.release();
  }
}

/** tfjs on whatever backend is active (initEngine chose it): trainOnBatch with Adam, or predict. */
export async function measureTfjs(model: BenchModel, task: Task, plan: Plan): Promise<Figure> {
  const m = buildBenchModel(model);
  try {
    if (task === 'train') {
      m.compile({ optimizer: tf.train.adam(1e-3), loss: 'sparseCategoricalCrossentropy' });
      const { x, y } = randomData(plan.batchesPerRun, TRAIN_BATCH, 2);
      return await timeRuns(plan, TRAIN_BATCH, async (i) => {
        const xs = tf.tensor(x.subarray(i * TRAIN_BATCH * SAMPLE_SIZE, (i + 1) * TRAIN_BATCH * SAMPLE_SIZE), [TRAIN_BATCH, ...SAMPLE]);
        const ys = tf.tensor1d(Array.from(y.subarray(i * TRAIN_BATCH, (i + 1) * TRAIN_BATCH)), 'float32');
        await m.trainOnBatch(xs, ys);
        tf.dispose([xs, ys]);
      });
    }
    const { x } = randomData(plan.batchesPerRun, INFER_BATCH, 3);
    return await timeRuns(plan, INFER_BATCH, async (i) => {
      const out = tf.tidy(() => m.predict(tf.tensor(x.subarray(i * INFER_BATCH * SAMPLE_SIZE, (i + 1) * INFER_BATCH * SAMPLE_SIZE), [INFER_BATCH, ...SAMPLE])) as tf.Tensor);
      await out.data();
      out.dispose();
    });
  } finally {
    m.optimizer?.dispose();
    m.dispose();
  }
}
