/**
 * Reads a Keras file in a worker thread with a time limit. libhdf5 (through h5wasm) parses a file's structure in
 * synchronous WebAssembly; a damaged or hostile file can send it into a loop that never returns (a zeroed run of
 * bytes in an object header is enough), and no signal handler or timer can run on a thread stuck there. In a
 * worker the main thread stays free: past the limit the worker is terminated and the user gets a one-line error
 * naming the file. Memory is bounded as well: h5wasm's heap cannot grow past 2 GiB, and datasets are read in
 * slices no larger than the file could hold (hdf5.ts).
 *
 * One worker serves the process's reads one after another (starting a thread and loading h5wasm costs more than
 * reading a small model); it does not keep the process alive between reads, and a stuck one is replaced.
 */
import { Worker } from 'node:worker_threads';
import { statSync } from 'node:fs';
import { SlimnetError } from '../../errors.ts';
import type { DetectedModel } from './container.ts';
import type { KerasModel } from './read-keras.ts';
import type { ReadWorkerMessage } from './read-worker.ts';

/** Overrides the time limit (milliseconds), e.g. for a very large file on a slow disk. */
export const READ_TIMEOUT_ENV = 'SLIMNET_KERAS_READ_TIMEOUT_MS';

/** 20 s, plus 1 s per 10 MB: a sound file of any size reads far faster (a 100 MB .h5 in a few seconds). */
export function readTimeoutMs(fileBytes: number): number {
  const override = Number(process.env[READ_TIMEOUT_ENV]);
  if (Number.isFinite(override) && override > 0) return override;
  return 20_000 + Math.ceil(fileBytes / 10e6) * 1000;
}

function inputBytes(detected: DetectedModel): number {
  try {
    const stat = statSync(detected.path);
    return stat.isFile() ? stat.size : 0;
  } catch {
    return 0;
  }
}

interface ReadWorker {
  worker: Worker;
  /** Settles once modules and h5wasm are loaded in the thread. */
  ready: Promise<void>;
}

let current: ReadWorker | undefined;
/** Reads queue behind each other: the worker reads one file at a time. */
let queue: Promise<unknown> = Promise.resolve();

function startWorker(): ReadWorker {
  const worker = new Worker(new URL('./read-worker-entry.mjs', import.meta.url), {
    workerData: { module: new URL('./read-worker.ts', import.meta.url).href },
    // The entry registers tsx itself; the parent's flags (e.g. `--import tsx`, resolved from the current folder) are not wanted.
    execArgv: [],
    // libhdf5's diagnostics are collected inside the worker; nothing it prints reaches the user's terminal.
    stdout: true,
    stderr: true,
  });
  worker.unref();
  const ready = new Promise<void>((resolve, reject) => {
    const onMessage = (m: ReadWorkerMessage) => {
      if (!('ready' in m)) return;
      worker.off('message', onMessage);
      resolve();
    };
    worker.on('message', onMessage);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the Keras read worker exited (code ${code}) while starting`)));
  });
  const started: ReadWorker = { worker, ready };
  worker.once('exit', () => {
    if (current === started) current = undefined;
  });
  return started;
}

async function readOnce(detected: DetectedModel): Promise<KerasModel> {
  current ??= startWorker();
  const { worker, ready } = current;
  worker.ref();
  try {
    await ready;
    const limit = readTimeoutMs(inputBytes(detected));
    return await new Promise<KerasModel>((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
        worker.off('exit', onExit);
      };
      const replace = () => {
        if (current?.worker === worker) current = undefined;
        void worker.terminate();
      };
      // The limit covers the file's reading, not the thread's start (slow on a loaded machine, and not the file's doing).
      const timer = setTimeout(() => {
        done();
        replace();
        reject(new SlimnetError('MODEL_INVALID', detected.path, `reading it did not finish within ${(limit / 1000).toFixed(0)} s (the HDF5 structure sends libhdf5 into a loop)`,
          `the file is corrupt or was not written by Keras: save the model again; ${READ_TIMEOUT_ENV} raises the limit for a huge file on a slow disk`));
      }, limit);
      const onMessage = (m: ReadWorkerMessage) => {
        if ('ready' in m) return;
        done();
        if ('model' in m) resolve(m.model);
        else if ('error' in m) reject(new SlimnetError(m.error.code, m.error.where, m.error.message, m.error.hint));
        else {
          // A bug may have left h5wasm's state damaged: the next read gets a fresh thread.
          replace();
          reject(Object.assign(new Error(`reading the Keras model failed: ${m.bug.message}`), { stack: m.bug.stack }));
        }
      };
      const onError = (e: Error) => {
        done();
        replace();
        reject(e);
      };
      const onExit = (code: number) => {
        done();
        reject(new Error(`the Keras read worker exited (code ${code}) without a result`));
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.once('exit', onExit);
      worker.postMessage({ detected });
    });
  } finally {
    worker.unref();
  }
}

export function readKerasModelBounded(detected: DetectedModel): Promise<KerasModel> {
  const read = queue.then(() => readOnce(detected));
  queue = read.catch(() => undefined);
  return read;
}
