/**
 * The body of the worker thread that reads a Keras file (bounded-read.ts starts it): reads the model and posts
 * it back — the IR, a slimnet error to re-throw, or the stack of a bug.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { SlimnetError } from '../../errors.ts';
import type { DetectedModel } from './container.ts';
import { loadH5wasm } from './hdf5.ts';
import { readKerasModel, type KerasModel } from './read-keras.ts';

export type ReadWorkerMessage =
  | { ready: true }
  | { model: KerasModel }
  | { error: { code: SlimnetError['code']; where: string; message: string; hint?: string } }
  | { bug: { message: string; stack?: string } };

const { detected } = workerData as { detected: DetectedModel };
// Modules and h5wasm are loaded: the time limit runs from here, over the file's own reading only.
await loadH5wasm();
parentPort!.postMessage({ ready: true } satisfies ReadWorkerMessage);
let message: ReadWorkerMessage;
try {
  message = { model: await readKerasModel(detected) };
} catch (e) {
  message = e instanceof SlimnetError
    ? { error: { code: e.code, where: e.where, message: e.message, hint: e.hint } }
    : { bug: { message: String((e as Error)?.message ?? e), stack: (e as Error)?.stack } };
}
// The weights' buffers move to the parent instead of being copied.
const buffers = 'model' in message ? [...new Set(message.model.ir.layers.flatMap((l) => l.weights.map((w) => w.values.buffer as ArrayBuffer)))] : [];
parentPort!.postMessage(message, buffers);
