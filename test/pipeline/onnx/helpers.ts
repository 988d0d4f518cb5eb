/**
 * Shared by the ONNX export tests: export a tfjs model through the IR, run the .onnx on onnxruntime-node
 * with seeded random inputs, compare with tfjs's own predictions, and validate the files with the
 * official ONNX checker (python3-onnx, called once per test file for all files it wrote).
 */
import { spawnSync } from 'node:child_process';
import type { TestContext } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initEngine } from '../../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { checkParity, type ParityReport } from '../../../pipeline/parity.ts';
import { decodeModel, onnx } from '../../../pipeline/onnx/proto.ts';
import { predictFlat, randomInputs, randomizeWeights } from '../../fixtures/models.ts';
import { needsValidator } from '../../helpers/validators.ts';

const CHECKER_SCRIPT = new URL('../../../pipeline/formats/onnx_check.py', import.meta.url).pathname;

/** tfjs's cpu backend is the reference: plain float32 kernels, nothing to initialise. */
export async function useReferenceBackend(): Promise<void> {
  await initEngine('cpu');
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'slimnet-onnx-'));
}

/** A Sequential model of `layers` on `inputShape`, with seeded random weights (BN statistics included). */
export function sequentialOf(name: string, inputShape: number[], layers: tf.layers.Layer[], seed = 1): tf.Sequential {
  const model = tf.sequential({ name });
  model.add(tf.layers.inputLayer({ inputShape, name: `${name}_input` }));
  for (const layer of layers) model.add(layer);
  randomizeWeights(model, seed);
  return model;
}

/** Runs every output of an ONNX model for the given inputs (fed by position, in the IR's input order). */
export async function runOnnx(bytes: Uint8Array, inputs: tf.Tensor[]): Promise<Float32Array[]> {
  const session = await ort.InferenceSession.create(bytes);
  try {
    const feeds: Record<string, ort.Tensor> = {};
    session.inputNames.forEach((name, i) => {
      feeds[name] = new ort.Tensor('float32', inputs[i].dataSync() as Float32Array, inputs[i].shape);
    });
    const result = await session.run(feeds);
    return session.outputNames.map((name) => result[name].data as Float32Array);
  } finally {
    await session.release();
  }
}

export interface ExportComparison {
  ir: ModelIR;
  bytes: Uint8Array;
  path: string;
  /** One per model output. */
  reports: ParityReport[];
}

/**
 * Exports `model` (via irFromTfjsModel), writes the .onnx into `dir` and compares ORT's outputs with the
 * tfjs model's on `batch` seeded random samples. Callers assert on `reports`.
 */
export async function exportAndCompare(
  model: tf.LayersModel, dir: string, opts: { batch?: number; seed?: number; opset?: number } = {},
): Promise<ExportComparison> {
  const ir = await irFromTfjsModel(model);
  const bytes = exportOnnx(ir, { opset: opts.opset });
  const path = join(dir, `${model.name}.onnx`);
  writeFileSync(path, bytes);
  const batch = opts.batch ?? 3;
  const inputs = randomInputs(model, batch, opts.seed ?? 7);
  const expected = await predictFlat(model, inputs);
  const actual = await runOnnx(bytes, inputs);
  tf.dispose(inputs);
  const reports = expected.map((reference, i) => checkParity({ reference, candidate: actual[i], samples: batch }));
  return { ir, bytes, path, reports };
}

/** The bar of issue 3 for float exports: same top-1 on every sample, max |Δ| ≤ 1e-4. */
export function meetsParity(reports: ParityReport[]): boolean {
  return reports.length > 0 && reports.every((r) => r.top1Agreement === 1 && r.maxAbsDiff <= 1e-4);
}

export interface CheckerResult {
  ok: boolean;
  output: string;
}

/**
 * `onnx.checker.check_model(full_check=True)` on every file, in one python process. Undefined (and the test marked
 * skipped, or failed under CI) when no python3 has the onnx package: see test/helpers/validators.ts.
 */
export function runOnnxChecker(t: TestContext, paths: string[]): CheckerResult | undefined {
  const python = needsValidator(t, 'onnx-checker');
  if (!python) return undefined;
  const run = spawnSync(python, [CHECKER_SCRIPT, ...paths], { encoding: 'utf8' });
  if (run.error) return { ok: false, output: `could not run ${python}: ${run.error.message}` };
  const output = `${run.stdout}${run.stderr}`.trim();
  return { ok: run.status === 0, output };
}

/** The parts of a decoded ModelProto the tests look at, with protobuf's optional fields made plain. */
export interface InspectedModel {
  irVersion: number;
  opsetImport: Array<{ domain: string; version: number }>;
  producerName: string;
  producerVersion: string;
  graph: {
    node: Array<{ name: string; opType: string; input: string[]; output: string[]; attribute: Array<{ name: string; ints: number[]; i: number; f: number }> }>;
    initializer: Array<{ name: string; dims: number[]; dataType: number; rawData: Uint8Array }>;
    input: Array<{ name: string; dims: Array<string | number> }>;
    output: Array<{ name: string; dims: Array<string | number> }>;
  };
}

interface PlainValueInfo {
  name: string;
  type: { tensorType: { shape: { dim: Array<{ dimParam?: string; dimValue?: number }> } } };
}

export function inspectModel(bytes: Uint8Array): InspectedModel {
  const plain = onnx.ModelProto.toObject(decodeModel(bytes), { longs: Number, arrays: true, defaults: true }) as unknown as
    Omit<InspectedModel, 'graph'> & { graph: Omit<InspectedModel['graph'], 'input' | 'output'> & { input: PlainValueInfo[]; output: PlainValueInfo[] } };
  const dims = (v: PlainValueInfo) => v.type.tensorType.shape.dim.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
  return {
    ...plain,
    graph: {
      ...plain.graph,
      input: plain.graph.input.map((v) => ({ name: v.name, dims: dims(v) })),
      output: plain.graph.output.map((v) => ({ name: v.name, dims: dims(v) })),
    },
  };
}
