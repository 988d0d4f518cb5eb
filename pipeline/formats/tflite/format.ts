/**
 * TensorFlow Lite as an export format (registered in ../index.ts): one float32 .tflite file (the IR's weights), loaded
 * back in TensorFlow's own TFLite runtime (tfjs-tflite-node, an optional dependency; when it is not installed the
 * export stage reports the file written but not verified) and held to the float parity bar.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../../io/atomic.ts';
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
  unavailable: runtimeUnavailable,
  parity: () => ({ kind: 'float' }),
};
