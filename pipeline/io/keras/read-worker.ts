/**
 * The body of the worker thread that reads Keras files (bounded-read.ts starts it): loads h5wasm, says it is
 * ready, then reads each requested model and posts it back — the IR, a slimnet error to re-throw, or the stack
 * of a bug.
 */
import { parentPort } from 'node:worker_threads';
import { SlimnetError } from '../../errors.ts';
import type { DetectedModel } from './container.ts';
import { loadH5wasm } from './hdf5.ts';
import { readKerasModel, type KerasModel } from './read-keras.ts';

export type ReadWorkerMessage =
  | { ready: true }
  | { model: KerasModel }
  | { error: { code: SlimnetError['code']; where: string; message: string; hint?: string } }
  | { bug: { message: string; stack?: string } };

async function read(detected: DetectedModel): Promise<ReadWorkerMessage> {
  try {
    return { model: await readKerasModel(detected) };
  } catch (e) {
    return e instanceof SlimnetError
      ? { error: { code: e.code, where: e.where, message: e.message, hint: e.hint } }
      : { bug: { message: String((e as Error)?.message ?? e), stack: (e as Error)?.stack } };
  }
}

await loadH5wasm();
parentPort!.on('message', async ({ detected }: { detected: DetectedModel }) => {
  const message = await read(detected);
  // The weights' buffers move to the parent instead of being copied.
  const buffers = 'model' in message ? [...new Set(message.model.ir.layers.flatMap((l) => l.weights.map((w) => w.values.buffer as ArrayBuffer)))] : [];
  parentPort!.postMessage(message, buffers);
});
parentPort!.postMessage({ ready: true } satisfies ReadWorkerMessage);
