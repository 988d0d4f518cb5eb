/**
 * Latency the way a speed-up can be trusted on a shared machine: the models being compared run interleaved in one
 * process (A B A B …, the order reversed every other round so neither always goes first), each round times one
 * inference per model, and the report is the median with its spread, plus the speed-up against the reference both
 * as a ratio of medians and as the median of the per-round ratios (each round's pair saw the same machine load).
 *
 * The core (`interleave`) takes plain async runners and a clock, so its logic is tested without timing anything;
 * `compareOnnxLatency` runs IR models on onnxruntime-node (1 thread, as evaluation does) at several batch sizes,
 * timing onnxruntime's Run through the native binding, synchronously (`openOrtTimed`; the public API beside it on
 * request, and instead of it when the binding is unavailable: onnx/ort-binding.ts says why);
 * `comparePredictorLatency` runs loaded predictors of any engine (the export stage's artifacts in their runtimes, the
 * quantize stage's ONNX encodings) at a given batch size.
 * Timings are for reports and latency targets only, never for a test assertion.
 */
import * as ort from 'onnxruntime-node';
import { sampleSize } from '../data/splits.ts';
import type { LabelledSet } from '../data/types.ts';
import type { Predictor } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';
import { exportOnnx } from '../onnx/export.ts';
import { ortSessionOptions } from '../onnx/ort.ts';
import { loadOrtBinding, openBindingSession, type BindingLoader, type SyncOrtSession } from '../onnx/ort-binding.ts';

export interface Spread {
  median: number;
  p25: number;
  p75: number;
  min: number;
  max: number;
}

export interface LatencyStats extends Spread {
  /** Timed runs (after warm-up). */
  runs: number;
}

/** One inference of one model. */
export interface LatencyRunner {
  name: string;
  run(): Promise<void>;
}

export interface InterleaveOptions {
  /** Untimed runs of each model first (also interleaved). */
  warmup: number;
  /** Timed rounds: each round runs every model once. */
  rounds: number;
  /** Milliseconds; performance.now by default (tests pass a fake clock). */
  now?: () => number;
}

/** Quantile of sorted values by linear interpolation. */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (at - lo);
}

export function spread(values: ArrayLike<number>): Spread {
  const s = Float64Array.from(values).sort();
  return { median: quantile(s, 0.5), p25: quantile(s, 0.25), p75: quantile(s, 0.75), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN };
}

/** Per-runner times (ms) of each round, in round order: times[i][r] belongs to runners[i]. */
export async function interleave(runners: LatencyRunner[], opts: InterleaveOptions): Promise<number[][]> {
  const now = opts.now ?? (() => performance.now());
  const order = (round: number) => (round % 2 === 0 ? runners.map((_, i) => i) : runners.map((_, i) => runners.length - 1 - i));
  for (let w = 0; w < opts.warmup; w++) for (const i of order(w)) await runners[i]!.run();
  const times = runners.map(() => [] as number[]);
  for (let r = 0; r < opts.rounds; r++) {
    for (const i of order(r)) {
      const start = now();
      await runners[i]!.run();
      times[i]!.push(now() - start);
    }
  }
  return times;
}

export interface Comparison {
  /** Per runner, in the order given. */
  stats: LatencyStats[];
  /** Per runner: reference median / this median (>1 = faster than the reference). */
  speedup: number[];
  /** Per runner: spread of the per-round ratios reference / this. */
  pairedSpeedup: Spread[];
}

/** Statistics of per-runner times (as `interleave` returns them), each compared against the first (the reference). */
export function compareTimes(times: number[][]): Comparison {
  const stats = times.map((t) => ({ ...spread(t), runs: t.length }));
  const reference = times[0]!;
  return {
    stats,
    speedup: stats.map((s) => stats[0]!.median / s.median),
    pairedSpeedup: times.map((t) => spread(t.map((v, r) => reference[r]! / v))),
  };
}

/** Runs the runners interleaved and compares each against the first (the reference). */
export async function compareLatency(runners: LatencyRunner[], opts: InterleaveOptions): Promise<Comparison> {
  return compareTimes(await interleave(runners, opts));
}

/**
 * How an onnxruntime inference is timed. `ort-run`: onnxruntime's Run through onnxruntime-node's native binding,
 * called synchronously (feeds converted, outputs copied into JS tensors). `public-api`: `await session.run(feeds)`,
 * which adds onnxruntime-common's argument checks and a turn of Node's event loop per call (onnx/ort-binding.ts).
 */
export type OrtTiming = 'ort-run' | 'public-api';

export interface OrtTimedModels {
  /** What `runners` time: `ort-run` when every model's binding session passed its probe, else `public-api`. */
  method: OrtTiming;
  /** Why the binding is not used (method `public-api`). */
  refused?: string;
  /** Per model, in the order given: one inference by `method` on the feeds given. */
  runners: LatencyRunner[];
  /**
   * Per model: one inference through the public API, on the same feeds (the same session options). With method
   * `ort-run` only when asked for (`keepPublicApi`); with `public-api` these are the runners.
   */
  publicApi: LatencyRunner[];
  release(): Promise<void>;
}

export interface OrtTimedOptions {
  /** onnxruntime intra-op threads (default 1, as evaluation). */
  threads?: number;
  /** Where onnxruntime-node's binding comes from (tests pass others to check the fallback). */
  loadBinding?: BindingLoader;
  /**
   * Keep each model's public-API session beside its binding session, to time both (default false: the public
   * session is released once it has checked the binding's output, so a large model holds one session, not two).
   */
  keepPublicApi?: boolean;
}

const disposeOutputs = (out: Record<string, ort.Tensor>) => {
  for (const t of Object.values(out)) t.dispose();
};

/** Public-API sessions for every model: the fallback when the binding is refused for any of them. */
async function openPublicOnly(models: { name: string; bytes: Uint8Array }[], x: Float32Array, dims: number[], options: ort.InferenceSession.SessionOptions, refused: string): Promise<OrtTimedModels> {
  const sessions: ort.InferenceSession[] = [];
  const release = async () => void (await Promise.all(sessions.splice(0).map((s) => s.release())));
  try {
    const runners = [];
    for (const m of models) {
      const s = await ort.InferenceSession.create(m.bytes, options);
      sessions.push(s);
      const feeds = { [s.inputNames[0]!]: new ort.Tensor('float32', x, dims) };
      runners.push({ name: m.name, run: async () => disposeOutputs(await s.run(feeds)) });
    }
    return { method: 'public-api', refused, runners, publicApi: runners, release };
  } catch (e) {
    await release();
    throw e;
  }
}

/**
 * onnxruntime sessions for `models` (ONNX bytes), each fed `x` as its one input of shape `dims`, ready to time: by
 * onnxruntime's own Run when the binding works for every model, else every model through the public API — the
 * same method for all, so a comparison never mixes them. Outputs are every model output, released after each call.
 * Models are opened one at a time, each public session checking its binding session's output, so at most one
 * session more than the timed ones exists at once.
 */
export async function openOrtTimed(models: { name: string; bytes: Uint8Array }[], x: Float32Array, dims: number[], opts: OrtTimedOptions = {}): Promise<OrtTimedModels> {
  const options = ortSessionOptions({ threads: opts.threads ?? 1 });
  const sessions: ort.InferenceSession[] = [];
  const native: SyncOrtSession[] = [];
  const release = async () => {
    for (const n of native.splice(0)) n.release();
    await Promise.all(sessions.splice(0).map((s) => s.release()));
  };
  try {
    const runners: LatencyRunner[] = [];
    const publicApi: LatencyRunner[] = [];
    for (const m of models) {
      const session = await ort.InferenceSession.create(m.bytes, options);
      const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', x, dims) };
      const opened = await openBindingSession(m.bytes, options, feeds, session, opts.loadBinding ?? loadOrtBinding);
      if (!opened.session) {
        await session.release();
        await release();
        return await openPublicOnly(models, x, dims, options, opened.refused);
      }
      const direct = opened.session;
      native.push(direct);
      runners.push({ name: m.name, run: async () => disposeOutputs(direct.run(feeds)) });
      if (opts.keepPublicApi) {
        sessions.push(session);
        publicApi.push({ name: m.name, run: async () => disposeOutputs(await session.run(feeds)) });
      } else {
        await session.release();
      }
    }
    return { method: 'ort-run', runners, publicApi, release };
  } catch (e) {
    await release();
    throw e;
  }
}

export interface PredictorLatencyOptions {
  /** Samples per inference (default 1). */
  batch?: number;
  /** Untimed runs of each predictor first (default 3). */
  warmup?: number;
}

/**
 * Latency of loaded predictors (any engine), interleaved: every round runs each predictor once on the same `batch`
 * consecutive samples of `set` (the next ones each round, cycling). Per predictor, in the order given.
 */
export async function comparePredictorLatency(predictors: Predictor[], set: LabelledSet, rounds: number, opts: PredictorLatencyOptions = {}): Promise<LatencyStats[]> {
  if (predictors.length === 0 || rounds <= 0 || set.count === 0) return [];
  const size = sampleSize(set);
  const n = Math.min(opts.batch ?? 1, set.count);
  const starts = Math.floor(set.count / n);
  const runners = predictors.map((p, i) => {
    let call = 0;
    const run = async () => {
      const from = (call++ % starts) * n;
      await p.predict(set.x.subarray(from * size, (from + n) * size), n, set.sampleShape);
    };
    return { name: `${i}`, run };
  });
  return (await compareLatency(runners, { warmup: opts.warmup ?? 3, rounds })).stats;
}

export interface OnnxLatencyOptions extends Omit<OrtTimedOptions, 'keepPublicApi'> {
  batchSizes: number[];
  /** Timed rounds at batch size b (e.g. fewer for large batches of a large model). */
  rounds: (batchSize: number) => number;
  warmup?: number;
  /** Also time every model through the public API in the same rounds (`BatchLatency.publicApi`). */
  publicApi?: boolean;
}

export interface BatchComparison {
  /** Milliseconds per inference of the whole batch, per model. */
  models: { name: string; stats: LatencyStats }[];
  /** Speed-up of each model against the first. */
  speedup: number[];
  pairedSpeedup: Spread[];
}

export interface BatchLatency extends BatchComparison {
  batchSize: number;
  /** What the figures time (see OrtTiming). */
  method: OrtTiming;
  /** Why onnxruntime's Run could not be timed directly (method `public-api`). */
  refused?: string;
  /** The same models through the public API, timed in the same rounds (option `publicApi`, method `ort-run`). */
  publicApi?: BatchComparison;
}

function batchComparison(names: string[], times: number[][]): BatchComparison {
  const c = compareTimes(times);
  return { models: c.stats.map((stats, i) => ({ name: names[i]!, stats })), speedup: c.speedup, pairedSpeedup: c.pairedSpeedup };
}

/**
 * Latency of IR models on onnxruntime-node, interleaved, at each batch size; inputs are the first samples of
 * `input` (repeated if fewer). Sessions exist only while their batch size is measured.
 */
export async function compareOnnxLatency(
  models: { name: string; ir: ModelIR }[], input: { x: Float32Array; sampleShape: number[] }, opts: OnnxLatencyOptions,
): Promise<BatchLatency[]> {
  const per = input.sampleShape.reduce((a, b) => a * b, 1);
  const available = Math.floor(input.x.length / per);
  const results: BatchLatency[] = [];
  const named = models.map((m) => ({ name: m.name, bytes: exportOnnx(m.ir) }));
  const names = models.map((m) => m.name);
  for (const batchSize of opts.batchSizes) {
    const x = new Float32Array(batchSize * per);
    for (let i = 0; i < batchSize; i++) x.set(input.x.subarray((i % available) * per, ((i % available) + 1) * per), i * per);
    const timed = await openOrtTimed(named, x, [batchSize, ...input.sampleShape], { threads: opts.threads, loadBinding: opts.loadBinding, keepPublicApi: opts.publicApi });
    try {
      const both = opts.publicApi === true && timed.method === 'ort-run';
      const times = await interleave(both ? [...timed.runners, ...timed.publicApi] : timed.runners, { warmup: opts.warmup ?? 2, rounds: opts.rounds(batchSize) });
      results.push({
        batchSize,
        ...batchComparison(names, times.slice(0, models.length)),
        method: timed.method,
        ...(timed.refused !== undefined ? { refused: timed.refused } : {}),
        ...(both ? { publicApi: batchComparison(names, times.slice(models.length)) } : {}),
      });
    } finally {
      await timed.release();
    }
  }
  return results;
}

/** Rounds for a latency comparison: ~`workMacs` multiply-accumulates per model, within [min, max]. */
export function roundsForWork(macsPerSample: number, batchSize: number, workMacs = 2e10, min = 5, max = 30): number {
  if (!(macsPerSample > 0)) return max;
  return Math.max(min, Math.min(max, Math.floor(workMacs / (macsPerSample * batchSize))));
}
