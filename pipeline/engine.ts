import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { SlimnetError } from './errors.ts';
import { registerWasmGradientKernels } from './kernels/register-wasm-gradients.ts';

/**
 * Which tfjs backend computes: tfjs-node (native TensorFlow) when it is installed, else wasm. The cpu backend is
 * ~200x slower than wasm and only meant as a reference in tests. `import * as tf from '@tensorflow/tfjs'` is the tf
 * everyone uses; initEngine only chooses the backend behind it.
 */
export type BackendRequest = 'auto' | 'wasm' | 'tfjs-node' | 'cpu';
export type BackendName = 'wasm' | 'tfjs-node' | 'cpu';

/** tfjs's own names for our backends. */
const TFJS_NAME: Record<BackendName, string> = { wasm: 'wasm', 'tfjs-node': 'tensorflow', cpu: 'cpu' };

let tfjsNodeLoad: Promise<{ ok: true } | { ok: false; reason: string }> | undefined;
let queue: Promise<unknown> = Promise.resolve();

/**
 * Idempotent. 'auto' = tfjs-node when `@tensorflow/tfjs-node` loads, else wasm. Registers the gradient kernels
 * wasm lacks (pipeline/kernels/). Calls are serialised, so concurrent callers never race on tf.setBackend.
 */
export function initEngine(request: BackendRequest = 'auto'): Promise<BackendName> {
  const run = queue.then(() => selectBackend(request));
  queue = run.catch(() => undefined);
  return run;
}

/** The backend tfjs is computing on now. Throws if no backend has been chosen yet (call initEngine first). */
export function activeBackend(): BackendName {
  const current = tf.getBackend() as string | undefined;
  const name = (Object.keys(TFJS_NAME) as BackendName[]).find((n) => TFJS_NAME[n] === current);
  if (!name) throw new Error(`no slimnet backend is active (tfjs backend: ${current ?? 'none'}); call initEngine() first`);
  return name;
}

async function selectBackend(request: BackendRequest): Promise<BackendName> {
  registerWasmGradientKernels();
  let name: BackendName;
  if (request === 'auto') {
    name = (await loadTfjsNode()).ok ? 'tfjs-node' : 'wasm';
  } else if (request === 'tfjs-node') {
    const loaded = await loadTfjsNode();
    if (!loaded.ok) {
      throw new SlimnetError(
        'BACKEND_UNAVAILABLE',
        '--backend',
        `@tensorflow/tfjs-node could not be loaded (${loaded.reason})`,
        'use --backend wasm, or install @tensorflow/tfjs-node for this platform',
      );
    }
    name = 'tfjs-node';
  } else {
    name = request;
  }
  if (tf.getBackend() !== TFJS_NAME[name]) await switchTo(name);
  return name;
}

async function switchTo(name: BackendName): Promise<void> {
  // The wasm runtime (emscripten) installs process handlers that re-throw every uncaught exception and unhandled
  // rejection from inside its minified source, so any later crash would print a screenful of wasm glue code.
  // Drop the handlers it adds; Node's defaults already fail loudly.
  const before = {
    uncaughtException: process.listeners('uncaughtException'),
    unhandledRejection: process.listeners('unhandledRejection'),
  };
  const ok = await tf.setBackend(TFJS_NAME[name]);
  for (const listener of process.listeners('uncaughtException')) {
    if (!before.uncaughtException.includes(listener)) process.removeListener('uncaughtException', listener);
  }
  for (const listener of process.listeners('unhandledRejection')) {
    if (!before.unhandledRejection.includes(listener)) process.removeListener('unhandledRejection', listener);
  }
  if (!ok) {
    throw new SlimnetError(
      'BACKEND_UNAVAILABLE',
      '--backend',
      `the ${name} backend failed to initialise`,
      name === 'wasm' ? 'reinstall dependencies (npm ci); the .wasm files of @tensorflow/tfjs-backend-wasm may be missing' : 'use --backend wasm',
    );
  }
  if (name === 'cpu') {
    // The cpu backend prints a "Hi, looks like you are running TensorFlow.js in Node.js ... tfjs-node" banner on
    // its first write; make that write here with tfjs's logging muted. PROD only gates tfjs's log/warn calls.
    const prod = tf.env().getBool('PROD');
    tf.env().set('PROD', true);
    tf.tidy(() => tf.scalar(0));
    tf.env().set('PROD', prod);
  }
}

function loadTfjsNode(): Promise<{ ok: true } | { ok: false; reason: string }> {
  tfjsNodeLoad ??= (async () => {
    // Native TensorFlow logs its CPU-feature banner at load unless told otherwise.
    process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';
    // A variable specifier keeps TypeScript from requiring the optional package at compile time.
    const specifier = '@tensorflow/tfjs-node';
    try {
      await import(specifier);
    } catch (e) {
      return { ok: false as const, reason: firstLine(e) };
    }
    if (!tf.findBackendFactory('tensorflow')) {
      return { ok: false as const, reason: "it loaded but registered no 'tensorflow' backend with this @tensorflow/tfjs" };
    }
    return { ok: true as const };
  })();
  return tfjsNodeLoad;
}

function firstLine(e: unknown): string {
  const message = e instanceof Error ? e.message : String(e);
  return message.split('\n')[0];
}
