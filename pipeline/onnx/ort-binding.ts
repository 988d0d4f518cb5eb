/**
 * onnxruntime's Run called synchronously through onnxruntime-node's native binding — for timing only.
 *
 * onnxruntime-node's public `InferenceSession.run` checks its arguments (onnxruntime-common), then defers the native
 * call to a later turn of Node's event loop (`new Promise(… setImmediate(…))` in onnxruntime-node/dist/backend.js)
 * and wraps the outputs again. That turn is Node's scheduling, not onnxruntime's work: a few microseconds on an idle
 * event loop, the same for every model, more when the process has other callbacks queued. At batch 1 it is a large
 * share of a small model's time, so a speed-up read through the public API alone is mostly a statement about Node.
 * The binding's own `run` still converts the feeds and copies the outputs into JS tensors, as any caller pays.
 *
 * The binding is not a public API. It is detected (module, class, methods), loaded with the caller's session
 * options, and checked on a probe run to return exactly what the public API returns for the same feeds; anything
 * else (module missing, shape changed, a throw, different outputs) yields the reason and no session, and the caller
 * times the public API instead.
 */
import { createRequire } from 'node:module';
import * as ort from 'onnxruntime-node';

/** The part of onnxruntime-node's binding session this module uses (onnxruntime-node/dist/binding.d.ts, 1.30). */
interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: ort.InferenceSession.SessionOptions): void;
  run(feeds: Record<string, ort.Tensor>, fetches: Record<string, null>, options: object): Record<string, unknown>;
  readonly outputMetadata: { name: string }[];
  dispose(): void;
}

/** Returns the module `onnxruntime-node/dist/binding` exports (tests pass others to check the fallback). */
export type BindingLoader = () => unknown;

const requireHere = createRequire(import.meta.url);
export const loadOrtBinding: BindingLoader = () => requireHere('onnxruntime-node/dist/binding');

/** A session whose `run` is onnxruntime's Run, synchronous. */
export interface SyncOrtSession {
  /** Every output of the model for `feeds`. */
  run(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor>;
  release(): void;
}

export type BindingSession = { session: SyncOrtSession; refused?: undefined } | { session?: undefined; refused: string };

const isFunction = (v: unknown): v is (...args: never[]) => unknown => typeof v === 'function';

/** The binding's session class, or why the loaded module does not look like onnxruntime-node 1.x's binding. */
function sessionClass(load: BindingLoader): { create: () => NativeSession } | string {
  let mod: unknown;
  try {
    mod = load();
  } catch (e) {
    return `onnxruntime-node/dist/binding did not load (${(e as Error).message.split('\n')[0]})`;
  }
  const m = mod as { binding?: { InferenceSession?: unknown }; initOrt?: unknown } | undefined;
  const Ctor = m?.binding?.InferenceSession;
  if (!isFunction(Ctor)) return 'onnxruntime-node/dist/binding has no binding.InferenceSession class';
  if (isFunction(m!.initOrt)) (m!.initOrt as () => void)();
  return {
    create: () => {
      const s = new (Ctor as unknown as new () => NativeSession)();
      for (const method of ['loadModel', 'run', 'dispose'] as const) {
        if (!isFunction(s[method])) throw new Error(`its sessions have no ${method}()`);
      }
      return s;
    },
  };
}

/** Why `got` is not the same tensor as `want`, or undefined. */
function tensorMismatch(name: string, got: unknown, want: ort.Tensor): string | undefined {
  const t = got as Partial<ort.Tensor> | undefined;
  if (!t || typeof t !== 'object' || !ArrayBuffer.isView(t.data)) return `output "${name}" is not a tensor`;
  if (t.type !== want.type || JSON.stringify(t.dims) !== JSON.stringify(want.dims)) {
    return `output "${name}" is ${t.type} [${t.dims}], the public API's ${want.type} [${want.dims}]`;
  }
  const a = t.data as unknown as ArrayLike<number>;
  const b = want.data as unknown as ArrayLike<number>;
  for (let i = 0; i < b.length; i++) {
    if (!(a[i] === b[i] || (Number.isNaN(a[i]) && Number.isNaN(b[i])))) return `output "${name}" differs from the public API's at ${i}`;
  }
  return undefined;
}

/**
 * The binding's session for the model `bytes` with `options`, checked on `probe` against `reference` (a public-API
 * session of the same model and options): every output of both must be identical. Otherwise the reason.
 */
export async function openBindingSession(
  bytes: Uint8Array, options: ort.InferenceSession.SessionOptions, probe: Record<string, ort.Tensor>, reference: ort.InferenceSession,
  load: BindingLoader = loadOrtBinding,
): Promise<BindingSession> {
  const cls = sessionClass(load);
  if (typeof cls === 'string') return { refused: cls };
  let native: NativeSession | undefined;
  try {
    native = cls.create();
    native.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, options);
    if (!Array.isArray(native.outputMetadata)) throw new Error('its sessions have no outputMetadata list');
    const fetches = Object.fromEntries(native.outputMetadata.map((o) => [o.name, null]));
    const got = native.run(probe, fetches, {});
    const want = await reference.run(probe);
    const names = Object.keys(want);
    if (JSON.stringify(Object.keys(got ?? {}).sort()) !== JSON.stringify([...names].sort())) {
      throw new Error(`its outputs [${Object.keys(got ?? {})}] are not the public API's [${names}]`);
    }
    const mismatch = names.map((n) => tensorMismatch(n, got[n], want[n]!)).find((m) => m !== undefined);
    if (mismatch) throw new Error(mismatch);
    const session = native;
    return {
      session: {
        run: (feeds) => session.run(feeds, fetches, {}) as Record<string, ort.Tensor>,
        release: () => session.dispose(),
      },
    };
  } catch (e) {
    try {
      native?.dispose();
    } catch {
      // A session that failed half-way may not dispose; it holds nothing the process needs back.
    }
    return { refused: `onnxruntime-node's binding session refused: ${(e as Error).message.split('\n')[0]}` };
  }
}
