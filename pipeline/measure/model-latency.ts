/**
 * The latency figures of report.json: a model timed interleaved with a reference (the baseline) in this process,
 * A B A B … (pipeline/measure/latency.ts), at batch 1 and a larger batch, on the evaluation engine. Reported as
 * median with spread for both, and the speed-up (reference median / model median; > 1 = faster). A figure taken
 * alone on a shared machine is mostly noise; the ratio of two models that took turns on the same cores is not.
 *
 * The baseline is timed against a second copy of itself: its ratio says how much noise this machine's
 * measurements carry (it should be close to 1).
 *
 * On onnxruntime the figures time onnxruntime's Run through the native binding, synchronously (`method: 'ort-run'`);
 * the same rounds at the smallest batch size also time both models through onnxruntime-node's public API
 * (`publicApi`: what an `await session.run()` in a Node process sees, one event-loop turn more per call). Each
 * inference reuses one input tensor per model and fetches every output, identically for both. tfjs models are timed through their predictors.
 */
import type { LabelledSet } from '../data/types.ts';
import { isSlimnetError } from '../errors.ts';
import { createPredictor, type EvaluationEngine } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';
import { exportOnnx } from '../onnx/export.ts';
import { compareTimes, interleave, openOrtTimed, type LatencyRunner, type LatencyStats, type OrtTiming, type Spread } from './latency.ts';
import { DEFAULT_LATENCY, type LatencySettings } from './latency-settings.ts';

/** A model against the reference in one batch size's rounds. */
export interface PairLatency {
  /** Milliseconds per inference of the whole batch. */
  model: LatencyStats;
  reference: LatencyStats;
  /**
   * The speed-up: median over rounds of (reference time / model time) in that round — each round's pair ran under
   * the same load, so a load swing mid-measurement cancels out. > 1 means faster than the reference.
   */
  speedup: number;
  /** Spread of those per-round ratios. */
  pairedSpeedup: Spread;
  /** reference median / model median (the unpaired ratio, for comparison). */
  medianRatio: number;
}

export interface BatchLatency extends PairLatency {
  batchSize: number;
  /** The same models through onnxruntime-node's public API, in the same rounds (method `ort-run`, smallest batch size only). */
  publicApi?: PairLatency;
}

export interface LatencyReport {
  /** What ran the timings, e.g. `onnxruntime-node` (one thread) or `tfjs-wasm`. */
  engine: string;
  /** What a figure times: onnxruntime's Run (`ort-run`), its public API (`public-api`) or a tfjs `predict`. */
  method: OrtTiming | 'predict';
  /** Why onnxruntime's Run was not timed directly (method `public-api`). */
  refused?: string;
  /** What the speed-up is against. */
  reference: 'baseline' | 'itself';
  batches: BatchLatency[];
}

/** The first `n` samples of `set`, repeated when it has fewer. */
function batchOf(set: LabelledSet, n: number): Float32Array {
  const per = set.sampleShape.reduce((a, b) => a * b, 1);
  const x = new Float32Array(n * per);
  for (let i = 0; i < n; i++) {
    const k = i % set.count;
    x.set(set.x.subarray(k * per, (k + 1) * per), i * per);
  }
  return x;
}

/** Both models' ONNX bytes, or undefined when the engine is tfjs (or 'auto' and either model does not export). */
function onnxPair(model: ModelIR, reference: ModelIR, engine: EvaluationEngine): [Uint8Array, Uint8Array] | undefined {
  if (engine === 'tfjs') return undefined;
  try {
    return [exportOnnx(model), exportOnnx(reference)];
  } catch (e) {
    if (engine === 'auto' && isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED') return undefined;
    throw e;
  }
}

function pair(times: number[][]): PairLatency {
  const c = compareTimes(times);
  return { model: c.stats[1]!, reference: c.stats[0]!, speedup: c.pairedSpeedup[1]!.median, pairedSpeedup: c.pairedSpeedup[1]!, medianRatio: c.speedup[1]! };
}

/** Interleaved rounds of `runners` after a warm-up, as many as fill the settings' time per batch size. */
async function timedRounds(runners: LatencyRunner[], settings: LatencySettings): Promise<number[][]> {
  const probe = performance.now();
  for (let w = 0; w < 3; w++) for (const r of w % 2 ? [...runners].reverse() : runners) await r.run();
  const perRound = Math.max((performance.now() - probe) / 3, 1e-3);
  const rounds = Math.max(settings.minRounds, Math.min(settings.maxRounds, Math.floor((settings.secondsPerBatch * 1000) / perRound)));
  return interleave(runners, { warmup: 0, rounds });
}

/**
 * Times `model` against `reference` (pass the same IR twice for the baseline's self-comparison). `set` supplies
 * the inputs (labels unused).
 */
export async function measureLatency(
  model: ModelIR, reference: ModelIR, set: LabelledSet, engine: EvaluationEngine, settings: LatencySettings = DEFAULT_LATENCY,
): Promise<LatencyReport> {
  const against = model === reference ? 'itself' : 'baseline';
  const onnx = onnxPair(model, reference, engine);
  if (onnx) {
    const batches: BatchLatency[] = [];
    let method: OrtTiming = 'ort-run';
    let refused: string | undefined;
    // The public API's extra cost is per call, the same at any batch size: it is timed beside onnxruntime's Run at
    // the smallest batch, where it is a visible share; at larger batches it is noise and would double the sessions.
    const smallest = Math.min(...settings.batchSizes);
    const models = [{ name: 'reference', bytes: onnx[1] }, { name: 'model', bytes: onnx[0] }];
    for (const batchSize of settings.batchSizes) {
      const timed = await openOrtTimed(models, batchOf(set, batchSize), [batchSize, ...set.sampleShape], { keepPublicApi: batchSize === smallest });
      try {
        const both = timed.method === 'ort-run' && timed.publicApi.length > 0;
        const times = await timedRounds(both ? [...timed.runners, ...timed.publicApi] : timed.runners, settings);
        batches.push({ batchSize, ...pair(times.slice(0, 2)), ...(both ? { publicApi: pair(times.slice(2)) } : {}) });
        if (timed.refused !== undefined) [method, refused] = ['public-api', timed.refused];
      } finally {
        await timed.release();
      }
    }
    return { engine: 'onnxruntime-node', method, ...(refused !== undefined ? { refused } : {}), reference: against, batches };
  }
  const [mine, theirs] = [await createPredictor(model, 'tfjs'), await createPredictor(reference, 'tfjs')];
  try {
    const batches: BatchLatency[] = [];
    for (const batchSize of settings.batchSizes) {
      const x = batchOf(set, batchSize);
      const runners = [theirs, mine].map((p, i) => ({ name: i ? 'model' : 'reference', run: async () => void (await p.predict(x, batchSize, set.sampleShape)) }));
      batches.push({ batchSize, ...pair(await timedRounds(runners, settings)) });
    }
    return { engine: mine.engine, method: 'predict', reference: against, batches };
  } finally {
    mine.dispose();
    theirs.dispose();
  }
}

/** `batch 1: 0.102 ms (IQR 0.098–0.110), 2.41× vs baseline` for logs and tables. */
export function describeLatency(r: LatencyReport | undefined): string {
  if (!r) return 'latency not measured';
  return r.batches
    .map((b) => {
      const api = b.publicApi ? ` (public API ${b.publicApi.model.median.toFixed(3)} ms, ${b.publicApi.speedup.toFixed(2)}×)` : '';
      return `batch ${b.batchSize}: ${b.model.median.toFixed(3)} ms (IQR ${b.model.p25.toFixed(3)}–${b.model.p75.toFixed(3)}), ${b.speedup.toFixed(2)}× vs ${r.reference}${api}`;
    })
    .join('; ');
}
