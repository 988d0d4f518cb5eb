/**
 * TensorFlow Lite as export formats (registered in ../index.ts), each one .tflite file loaded back in TensorFlow's
 * own TFLite runtime (tfjs-tflite-node, an optional dependency; when it is not installed the export stage reports
 * the file written but not verified):
 * - `tflite`: float32, the IR's weights; held to the float parity bar.
 * - `tflite-int8`: full integer — int8 weights (per channel) and activations, int32 biases, float32 input and
 *   output. Activation ranges: the model's own calibration when a stage measured it on this very model (the
 *   quantize stage), otherwise calibrated here on training samples — both through pipeline/activation-calibration.ts.
 *   A quantised artifact, so its validation accuracy is held to the budget floor.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { calibrateActivations, calibrationOptions, calibrationSamples, currentCalibration } from '../../activation-calibration.ts';
import { writeFileAtomic } from '../../io/atomic.ts';
import type { ActivationRange } from '../../ir.ts';
import { problemOf } from '../coverage.ts';
import type { ExportFormat } from '../types.ts';
import { exportTflite } from './export.ts';
import { tflitePredictor, tfliteRuntime } from './runtime.ts';

/** Why .tflite files cannot be checked here (the runtime is not installed), or undefined when they can. */
function runtimeUnavailable(): string | undefined {
  const runtime = tfliteRuntime();
  return runtime.available ? undefined : runtime.reason;
}

async function loadTflite(file: string) {
  return tflitePredictor(new Uint8Array(await readFile(file)), { threads: 1 });
}

const floatOptions = z.strictObject({});

export const tfliteFormat: ExportFormat<typeof floatOptions> = {
  id: 'tflite',
  description: 'TensorFlow Lite, float32 (one .tflite), checked in TensorFlow\'s TFLite runtime',
  artifact: 'tflite/model.tflite',
  options: floatOptions,
  async write(ir, file) {
    await writeFileAtomic(file, exportTflite(ir));
    return { files: [file] };
  },
  load: (file) => loadTflite(file),
  coverage: (ir) => problemOf(() => exportTflite(ir)),
  unavailable: runtimeUnavailable,
  parity: () => ({ kind: 'float' }),
};

const int8Options = z.strictObject({
  calibration: calibrationOptions.prefault({}).describe('used when the model carries no calibration of its own (a quantize stage with int8 activations gives it one)'),
});

/**
 * A range for every tensor, so that coverage can ask the int8 writer which layers it takes (the recurrent layers and
 * Embedding refuse int8) before any calibration exists. Only the answer is kept; nothing written with it ships.
 */
const ANY_RANGE = new Proxy({} as Record<string, ActivationRange>, {
  get: () => ({ min: -1, max: 1 }),
  getOwnPropertyDescriptor: () => ({ value: { min: -1, max: 1 }, configurable: true, enumerable: true, writable: false }),
});

export const tfliteInt8Format: ExportFormat<typeof int8Options> = {
  id: 'tflite-int8',
  description: 'TensorFlow Lite, full-integer int8 with float32 input/output (one .tflite), checked in TensorFlow\'s TFLite runtime',
  artifact: 'tflite/model-int8.tflite',
  options: int8Options,
  async write(ir, file, ctx) {
    let calibration = currentCalibration(ir);
    let note: string;
    if (calibration) {
      note = `tflite-int8: activation ranges from the model's calibration (${calibration.method} over ${calibration.samples} training samples)`;
    } else {
      const { method, samples, percentile } = ctx.options.calibration;
      calibration = await calibrateActivations(ir, calibrationSamples(ctx.data.train, samples, ctx.seed), { method, percentile });
      const stale = ir.calibration ? '; the model\'s own calibration was measured before a later stage changed it' : '';
      note = `tflite-int8: activation ranges calibrated here (${method} over ${calibration.samples} training samples${stale})`;
    }
    await writeFileAtomic(file, exportTflite(ir, { numerics: 'int8', ranges: calibration.ranges }));
    return { files: [file], notes: [note] };
  },
  load: (file) => loadTflite(file),
  // The float conversion answers which layers TFLite can hold without calibrating; an int8-only refusal (a
  // recurrent layer) still comes from the writer, as one line naming the layer.
  coverage: (ir) => problemOf(() => exportTflite(ir, { numerics: 'int8', ranges: ANY_RANGE })),
  unavailable: runtimeUnavailable,
  parity: () => ({ kind: 'quantized', why: 'full-integer int8' }),
};
