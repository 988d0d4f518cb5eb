/** Running exported ONNX models on onnxruntime-node: sessions, batched prediction, a Predictor for evaluate.ts. */
import * as ort from 'onnxruntime-node';
import { sampleSize } from '../data/splits.ts';
import type { Predictor } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';
import { exportOnnx } from './export.ts';

export type OrtSession = ort.InferenceSession;

export interface OrtSessionOptions {
  /** Intra-op threads; onnxruntime's default (one per core) when unset. */
  threads?: number;
}

/** The session options slimnet runs every onnxruntime session with (timing sessions included). */
export function ortSessionOptions(opts: OrtSessionOptions = {}): ort.InferenceSession.SessionOptions {
  return {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    // Errors only: onnxruntime's warnings (one "Removing initializer … not used" per unused BatchNormalization
    // constant of a training graph: 52 lines in one MobileNetV2 fine-tune) flood the run's progress display.
    logSeverityLevel: 3,
    ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
  };
}

export async function createOrtSession(bytes: Uint8Array, opts: OrtSessionOptions = {}): Promise<OrtSession> {
  return ort.InferenceSession.create(bytes, ortSessionOptions(opts));
}

/** Flat samples, sample-major, each of `sampleShape` (NHWC for images). A LabelledSet is one. */
export interface SampleArray {
  x: Float32Array;
  sampleShape: number[];
}

/** Runs `count` samples of `x` as one batch; returns the output `outputName` (default: the first), flat. */
export async function runOrtBatch(
  session: OrtSession, x: Float32Array, count: number, sampleShape: number[], outputName = session.outputNames[0],
): Promise<Float32Array> {
  if (session.inputNames.length !== 1) {
    throw new Error(`predictOrt feeds one input; the model has ${session.inputNames.length} (${session.inputNames.join(', ')})`);
  }
  const input = new ort.Tensor('float32', x, [count, ...sampleShape]);
  const result = await session.run({ [session.inputNames[0]]: input }, [outputName]);
  const out = result[outputName];
  if (out.type !== 'float32') throw new Error(`output ${outputName} is ${out.type}, expected float32`);
  const values = (out.data as Float32Array).slice();
  out.dispose();
  return values;
}

/** Predictions for every sample, `batchSize` samples per run, in sample order (flat rows). */
export async function predictOrt(
  session: OrtSession, data: SampleArray, batchSize = 256, outputName = session.outputNames[0],
): Promise<Float32Array> {
  const size = sampleSize(data);
  const count = data.x.length / size;
  if (!Number.isInteger(count)) throw new Error(`x has ${data.x.length} values, not a multiple of sample size ${size}`);
  let out: Float32Array | undefined;
  let rowSize = 0;
  for (let start = 0; start < count; start += batchSize) {
    const n = Math.min(batchSize, count - start);
    const y = await runOrtBatch(session, data.x.subarray(start * size, (start + n) * size), n, data.sampleShape, outputName);
    if (!out) {
      rowSize = y.length / n;
      out = new Float32Array(count * rowSize);
    }
    out.set(y, start * rowSize);
  }
  return out ?? new Float32Array(0);
}

/** An evaluate.ts Predictor backed by an ORT session; dispose() releases the session. */
export function ortPredictor(session: OrtSession): Predictor {
  return {
    engine: 'onnxruntime-node',
    predict: (x, count, sampleShape) => runOrtBatch(session, x, count, sampleShape),
    dispose: () => void session.release(),
  };
}

/**
 * Exports `ir` in memory and serves it from onnxruntime-node: the fast path for evaluating candidates.
 * Throws the export's SlimnetError (LAYER_UNSUPPORTED) for models ONNX export cannot take; fall back to tfjs then.
 */
export async function onnxPredictor(ir: ModelIR, opts: OrtSessionOptions = {}): Promise<Predictor> {
  return ortPredictor(await createOrtSession(exportOnnx(ir), opts));
}
