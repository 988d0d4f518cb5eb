/**
 * The per-family check: a small tfjs model around a layer under test goes through slimnet, and everything slimnet
 * derives from the layer's typed config is compared with tfjs's own answer — output shapes (layer.outputShape),
 * parameter counts (layer.countParams()) against the weights the family declares, MACs against a formula the test
 * writes out, the ONNX export's outputs against tfjs's predictions on onnxruntime-node, and (for classes with a
 * TFLite conversion) the float32 TFLite export's outputs in the TFLite runtime, and the full-integer int8 export's
 * (the runtime must accept the file, and its outputs stay near tfjs's). Exported ONNX files are collected for one
 * run of the official ONNX checker per test file.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { calibrateActivations } from '../../../pipeline/activation-calibration.ts';
import type { LabelledSet } from '../../../pipeline/data/types.ts';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { cloneIR, type ModelIR } from '../../../pipeline/ir.ts';
import { layerClass } from '../../../pipeline/layers/registry.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { exportTflite } from '../../../pipeline/formats/tflite/export.ts';
import { tflitePredictor } from '../../../pipeline/formats/tflite/runtime.ts';
import { findValidator, INSTALL_COMMAND, ON_CI } from '../../helpers/validators.ts';
import { createRng, type Rng } from '../../../pipeline/random.ts';
import { predictFlat, randomInputs, randomizeWeights } from '../../fixtures/models.ts';
import { runOnnx, sequentialOf } from '../onnx/helpers.ts';

import { runOnnxChecker, tempDir, useReferenceBackend } from '../onnx/helpers.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { layer } from '../../fixtures/ir.ts';
import { before, test } from 'node:test';

export { runOnnxChecker, tempDir, useReferenceBackend };

export interface LayerCase {
  name: string;
  inputShape: number[];
  /** The layers, in order; the one under test is named `under`. */
  layers: () => tf.layers.Layer[];
  /** Instead of `layers`: a functional model (named `name`) with a layer named `under`. */
  model?: () => tf.LayersModel;
  /** MACs of the layer under test from its input and output shapes (per sample), written out independently. */
  macs: (inShape: number[], outShape: number[]) => number;
  /** Also compare the ONNX export with tfjs (default true). */
  onnx?: boolean;
  /** The model reads integer ids below this (an Embedding's input_dim): inputs are seeded ids, not random floats. */
  ids?: number;
}

/** Seeded inputs for `model`: random floats in [−1, 1), or integer ids in [0, ids) held as float32 (as tfjs feeds them). */
export function caseInputs(model: tf.LayersModel, batch: number, seed: number, ids?: number): tf.Tensor[] {
  if (ids === undefined) return randomInputs(model, batch, seed);
  const rng = createRng(seed);
  return model.inputs.map((inp) => {
    const shape = [batch, ...(inp.shape.slice(1) as number[])];
    return tf.tensor(Float32Array.from({ length: prod(shape) }, () => rng.int(ids)), shape);
  });
}

export const UNDER = 'under';

/** Seeded picks for random configs. */
export function picker(seed: number): { rng: Rng; pick: <T>(xs: readonly T[]) => T; int: (lo: number, hi: number) => number; bool: () => boolean } {
  const rng = createRng(seed);
  return {
    rng,
    pick: (xs) => xs[rng.int(xs.length)]!,
    int: (lo, hi) => lo + rng.int(hi - lo + 1),
    bool: () => rng.next() < 0.5,
  };
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

/** Per-sample input shape of the layer named `name` in the tfjs model. */
function tfjsInShape(model: tf.LayersModel, name: string): number[] {
  const input = model.getLayer(name).input;
  return ((Array.isArray(input) ? input[0]! : input) as tf.SymbolicTensor).shape.slice(1) as number[];
}

export interface CheckResult {
  ir: ModelIR;
  path?: string;
  maxAbsDiff?: number;
  /** The TFLite export's max |Δ| against tfjs; undefined when not compared (no conversion, refused, no runtime here). */
  tfliteMaxAbsDiff?: number;
  /** The int8 TFLite export's max |Δ| against tfjs, as a share of the reference outputs' range. */
  tfliteInt8Error?: number;
}

/** int8 against float: a share of the output range (a wrong scale, zero point or layout is off by far more). */
const INT8_MAX_ERROR = 0.05;

/** Runs every comparison on one case; returns the IR and the .onnx written to `dir` (if exported). */
export async function checkCase(c: LayerCase, dir: string, seed = 1): Promise<CheckResult> {
  const model = c.model ? randomizeWeights(c.model(), seed) : sequentialOf(c.name, c.inputShape, c.layers(), seed);
  try {
    const ir = await irFromTfjsModel(model);
    const shapes = inferShapes(ir);
    const macs = countMacs(ir).perLayer;
    for (const tl of model.layers) {
      const layer = ir.layers.find((l) => l.name === tl.name)!;
      // tfjs leaves a Reshape's inferred dimension (and what follows from it) unknown: any positive size fits there.
      const theirs = (tl.outputShape as (number | null)[]).slice(1);
      const ours = shapes.get(tl.name)!;
      assert.deepEqual(ours.map((d, i) => (theirs[i] === null && d > 0 ? null : d)), theirs, `${c.name}: output shape of ${tl.name}`);
      const inputs = layer.inputs.map((n) => shapes.get(n)!);
      const declared = layerClass(layer.className)!.weights(layer, inputs);
      assert.equal(declared.reduce((n, w) => n + prod(w.shape), 0), tl.countParams(), `${c.name}: params of ${tl.name}`);
      assert.deepEqual(declared.map((w) => w.name).sort(), layer.weights.map((w) => w.name).sort(), `${c.name}: weight names of ${tl.name}`);
    }
    const inShape = tfjsInShape(model, UNDER);
    const outShape = shapes.get(UNDER)!;
    assert.equal(macs[UNDER], c.macs(inShape, outShape), `${c.name}: MACs`);
    if (c.onnx === false) return { ir };
    const bytes = exportOnnx(ir);
    const path = join(dir, `${c.name}.onnx`);
    writeFileSync(path, bytes);
    const maxAbsDiff = await onnxDiff(model, bytes, 3, 7, c.ids);
    assert.ok(maxAbsDiff <= 1e-4, `${c.name}: ONNX vs tfjs max |Δ| ${maxAbsDiff}`);
    const tfliteMaxAbsDiff = await tfliteDiff(model, ir, 3, 7, 'float32', c.ids);
    if (tfliteMaxAbsDiff === undefined) return { ir, path, maxAbsDiff };
    assert.ok(tfliteMaxAbsDiff <= 1e-4, `${c.name}: TFLite vs tfjs max |Δ| ${tfliteMaxAbsDiff}`);
    // Undefined: the int8 export refuses this layer in one line naming it (a class may be float-only).
    const tfliteInt8Error = await tfliteDiff(model, ir, 8, 7, 'int8', c.ids);
    if (tfliteInt8Error === undefined) return { ir, path, maxAbsDiff, tfliteMaxAbsDiff };
    assert.ok(tfliteInt8Error <= INT8_MAX_ERROR, `${c.name}: int8 TFLite vs tfjs: ${tfliteInt8Error} of the output range`);
    return { ir, path, maxAbsDiff, tfliteMaxAbsDiff, tfliteInt8Error };
  } finally {
    model.dispose();
  }
}

/** Largest |Δ| between the ONNX model's outputs and tfjs's on `batch` seeded random samples. */
export async function onnxDiff(model: tf.LayersModel, bytes: Uint8Array, batch: number, seed = 7, ids?: number): Promise<number> {
  const inputs = caseInputs(model, batch, seed, ids);
  try {
    const [expected, actual] = [await predictFlat(model, inputs), await runOnnx(bytes, inputs)];
    let m = 0;
    expected.forEach((e, o) => {
      assert.equal(actual[o]!.length, e.length, 'output sizes differ');
      for (let i = 0; i < e.length; i++) m = Math.max(m, Math.abs(e[i]! - actual[o]![i]!));
    });
    return m;
  } finally {
    tf.dispose(inputs);
  }
}

/**
 * Largest |Δ| between the float32 TFLite export run in the TFLite runtime and tfjs, on `batch` seeded random
 * samples; for `int8`, the full-integer export (calibrated on those and 56 other samples) and |Δ| as a share of the
 * reference outputs' range. Undefined when a layer of the model has no TFLite conversion, the exporter refuses this
 * config (a one-line LAYER_UNSUPPORTED naming the layer), the model has several inputs, or the runtime is missing
 * (a failure under CI).
 */
export async function tfliteDiff(model: tf.LayersModel, ir: ModelIR, batch: number, seed = 7, numerics: 'float32' | 'int8' = 'float32', ids?: number): Promise<number | undefined> {
  const under = ir.layers.find((l) => l.name === UNDER);
  // A neighbour the format cannot write (a Conv1D before the pool under test) leaves nothing to compare either.
  if (!under || ir.layers.some((l) => l.className !== 'InputLayer' && !layerClass(l.className)?.tflite) || ir.inputs.length !== 1) return undefined;
  const runtime = findValidator('tflite-runtime');
  if (!runtime.available) {
    assert.ok(!ON_CI, `CI=true: needs tflite-runtime: ${runtime.reason}; install it with: ${INSTALL_COMMAND['tflite-runtime']}`);
    return undefined;
  }
  const [x] = caseInputs(model, batch, seed, ids);
  let bytes: Uint8Array;
  try {
    bytes = numerics === 'int8' ? exportTflite(ir, { numerics, ranges: await rangesOver(ir, model, x!, seed, ids) }) : exportTflite(ir);
  } catch (e) {
    x!.dispose();
    // Refused in one line: the layer under test (float32), or any layer of the model (int8: a float-only neighbour).
    if (isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && (numerics === 'int8' || e.oneLine().includes(`layer "${UNDER}"`))) return undefined;
    throw e;
  }
  try {
    const [expected] = await predictFlat(model, [x!]);
    const actual = await tflitePredictor(bytes).predict(x!.dataSync() as Float32Array, batch, x!.shape.slice(1) as number[]);
    assert.equal(actual.length, expected!.length, 'TFLite output size differs');
    const diff = actual.reduce((m, v, i) => Math.max(m, Math.abs(v - expected![i]!)), 0);
    if (numerics === 'float32') return diff;
    const range = expected!.reduce((m, v) => Math.max(m, v), -Infinity) - expected!.reduce((m, v) => Math.min(m, v), Infinity);
    return diff / Math.max(range, 1e-6);
  } finally {
    x!.dispose();
  }
}

/**
 * Calibrated ranges over the compared inputs `x` and 56 more: what is checked is the exporter's int8 arithmetic,
 * not how well a few random samples predict the range of others (outside it, int8 clips by design).
 */
async function rangesOver(ir: ModelIR, model: tf.LayersModel, x: tf.Tensor, seed: number, ids?: number) {
  const [more] = caseInputs(model, 56, seed + 1, ids);
  const all = tf.concat([x, more!]);
  const set: LabelledSet = { x: all.dataSync() as Float32Array, y: new Int32Array(all.shape[0]!), count: all.shape[0]!, sampleShape: x.shape.slice(1) as number[], numClasses: 2 };
  tf.dispose([more!, all]);
  return (await calibrateActivations(ir, set)).ranges;
}

/**
 * The quantisation axis a family declares for `weight` of layer `name` is its output-channel axis: zeroing one
 * channel of that view (the layer has no bias and a linear activation) zeroes exactly that output channel of the
 * layer, as tfjs computes it.
 */
export async function checkQuantizationAxis(ir: ModelIR, name: string, weight: string, outputChannelOf: (k: number) => number = (k) => k): Promise<void> {
  const layer = ir.layers.find((l) => l.name === name)!;
  const w = layer.weights.find((x) => x.name === weight)!;
  const view = layerClass(layer.className)!.quantizationAxis!(layer, { name: w.name, shape: w.shape });
  assert.ok(view, `${name}/${weight} declares a channel axis`);
  assert.equal(prod(view.shape), prod(w.shape));
  const channels = view.shape[view.axis]!;
  const k = channels - 1;
  const probe = cloneIR(ir);
  probe.outputs = [name];
  const pw = probe.layers.find((l) => l.name === name)!.weights.find((x) => x.name === weight)!;
  const inner = prod(view.shape.slice(view.axis + 1));
  for (let i = 0; i < pw.values.length; i++) if (Math.floor(i / inner) % channels === k) pw.values[i] = 0;
  const model = await buildTfjsModel(probe);
  const x = randomInputs(model, 2, 3);
  const [y] = await predictFlat(model, x);
  tf.dispose(x);
  const outC = (model.outputs[0]!.shape.at(-1) as number);
  model.dispose();
  for (let i = 0; i < y!.length; i++) {
    const c = i % outC;
    if (c === outputChannelOf(k)) assert.equal(y![i], 0, `${name}/${weight}: output channel ${c} should be 0`);
  }
  assert.ok(y!.some((v, i) => i % outC !== outputChannelOf(k) && v !== 0), 'other channels stay');
}

export { prod };

/**
 * Registers one test per case (shapes, params, MACs, ONNX parity) and, after them, one onnx.checker run over every
 * file they exported. The tfjs reference backend is set up first.
 */
export function caseTests(family: string, cases: LayerCase[]): void {
  const dir = tempDir();
  const written: string[] = [];
  before(useReferenceBackend);
  for (const c of cases) {
    test(`${c.name}: shapes, params, MACs${c.onnx === false ? '' : ', ONNX'} match tfjs`, async () => {
      const { path } = await checkCase(c, dir);
      if (path) written.push(path);
    });
  }
  test(`every exported ${family} model passes onnx.checker (full_check)`, (t) => {
    assert.equal(written.length, cases.filter((c) => c.onnx !== false).length);
    const result = runOnnxChecker(t, written);
    if (result) assert.ok(result.ok, result.output);
  });
}

/** Each [class, Keras config, code, key] is one SlimnetError of that code naming `layer "x" (class)` and the key. */
export function expectConfigErrors(rows: Array<[string, Record<string, unknown>, 'MODEL_INVALID' | 'LAYER_UNSUPPORTED', RegExp]>): void {
  for (const [className, keras, code, key] of rows) {
    assert.throws(() => layer('x', className, ['in'], keras), (e: unknown) =>
      isSlimnetError(e) && e.code === code && e.where === `layer "x" (${className})` && key.test(e.message) && !/\n/.test(e.oneLine()),
    `${className} ${JSON.stringify(keras)}`);
  }
}
