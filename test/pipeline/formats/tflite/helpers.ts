/**
 * Shared by the TFLite export tests: export a tfjs model through the IR, write the .tflite to disk, load it from
 * disk in the real TFLite runtime and compare with tfjs's own predictions on seeded random inputs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { calibrateActivations } from '../../../../pipeline/activation-calibration.ts';
import type { LabelledSet } from '../../../../pipeline/data/types.ts';
import { exportTflite } from '../../../../pipeline/formats/tflite/export.ts';
import { tflitePredictor } from '../../../../pipeline/formats/tflite/runtime.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../../pipeline/ir.ts';
import { checkParity, type ParityReport } from '../../../../pipeline/parity.ts';
import { predictFlat, randomInputs } from '../../../fixtures/models.ts';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'slimnet-tflite-'));
}

/** Seeded inputs of `model` as a LabelledSet (labels unused). */
export function inputSet(model: tf.LayersModel, count: number, seed: number): LabelledSet {
  const [x] = randomInputs(model, count, seed);
  const set = { x: x!.dataSync() as Float32Array, y: new Int32Array(count), count, sampleShape: x!.shape.slice(1) as number[], numClasses: 2 };
  x!.dispose();
  return set;
}

export interface TfliteComparison {
  ir: ModelIR;
  bytes: Uint8Array;
  report: ParityReport;
}

/**
 * Exports `model` (float32, or int8 calibrated by min/max on 200 other seeded inputs), writes it under `dir`, loads
 * the file back in the TFLite runtime and compares its outputs with tfjs's on `batch` seeded random samples.
 * `transform` edits the IR first (e.g. stores its weights quantised); tfjs then runs the edited IR as reference.
 */
export async function exportAndCompare(
  model: tf.LayersModel, dir: string, opts: { numerics?: 'float32' | 'int8'; batch?: number; transform?: (ir: ModelIR) => ModelIR; label?: string } = {},
): Promise<TfliteComparison> {
  const ir = opts.transform ? opts.transform(await irFromTfjsModel(model)) : await irFromTfjsModel(model);
  if (opts.transform) model = await buildTfjsModel(ir);
  const numerics = opts.numerics ?? 'float32';
  const ranges = numerics === 'int8' ? (await calibrateActivations(ir, inputSet(model, 200, 11))).ranges : undefined;
  const path = join(dir, `${model.name}-${numerics}${opts.label ? `-${opts.label}` : ''}.tflite`);
  writeFileSync(path, exportTflite(ir, { numerics, ranges }));
  const bytes = new Uint8Array(readFileSync(path));
  const batch = opts.batch ?? 20;
  const inputs = inputSet(model, batch, 7);
  const x = tf.tensor(inputs.x, [batch, ...inputs.sampleShape]);
  const [reference] = await predictFlat(model, [x]);
  x.dispose();
  const predictor = tflitePredictor(bytes);
  const candidate = await predictor.predict(inputs.x, batch, inputs.sampleShape);
  predictor.dispose();
  if (opts.transform) model.dispose();
  return { ir, bytes, report: checkParity({ reference: reference!, candidate, samples: batch }) };
}
