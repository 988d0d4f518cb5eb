/**
 * The latency figures of report.json: a model timed interleaved with a reference (the baseline) in this process,
 * A B A B … (pipeline/measure/latency.ts), at batch 1 and a larger batch, on the evaluation engine. Reported as
 * median with spread for both, and the speed-up (reference median / model median; > 1 = faster). A figure taken
 * alone on a shared machine is mostly noise; the ratio of two models that took turns on the same cores is not.
 *
 * The baseline is timed against a second copy of itself: its ratio says how much noise this machine's
 * measurements carry (it should be close to 1).
 */
import type { LabelledSet } from '../data/types.ts';
import { createPredictor, type EvaluationEngine, type Predictor } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';
import { compareLatency, type LatencyStats, type Spread } from './latency.ts';
import { DEFAULT_LATENCY, type LatencySettings } from './latency-settings.ts';

export interface BatchLatency {
  batchSize: number;
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

export interface LatencyReport {
  /** What ran the timings, e.g. `onnxruntime-node` (one thread) or `tfjs-wasm`. */
  engine: string;
  /** What the speed-up is against. */
  reference: 'baseline' | 'itself';
  batches: BatchLatency[];
}

/** Both models on one engine: if either cannot use the requested one (auto: ONNX export refused), both use tfjs. */
async function predictorPair(model: ModelIR, reference: ModelIR, engine: EvaluationEngine): Promise<[Predictor, Predictor]> {
  const a = await createPredictor(model, engine);
  const b = await createPredictor(reference, engine);
  if (a.engine === b.engine) return [a, b];
  a.dispose();
  b.dispose();
  return [await createPredictor(model, 'tfjs'), await createPredictor(reference, 'tfjs')];
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

/**
 * Times `model` against `reference` (pass the same IR twice for the baseline's self-comparison). `set` supplies
 * the inputs (labels unused).
 */
export async function measureLatency(
  model: ModelIR, reference: ModelIR, set: LabelledSet, engine: EvaluationEngine, settings: LatencySettings = DEFAULT_LATENCY,
): Promise<LatencyReport> {
  const [mine, theirs] = await predictorPair(model, reference, engine);
  try {
    const batches: BatchLatency[] = [];
    for (const batchSize of settings.batchSizes) {
      const x = batchOf(set, batchSize);
      const runners = [theirs, mine].map((p, i) => ({ name: i ? 'model' : 'reference', run: async () => void (await p.predict(x, batchSize, set.sampleShape)) }));
      // Warm-up, then a rough cost per round to size the timed rounds to the time budget.
      const probe = performance.now();
      for (let w = 0; w < 3; w++) for (const r of w % 2 ? [...runners].reverse() : runners) await r.run();
      const perRound = Math.max((performance.now() - probe) / 3, 1e-3);
      const rounds = Math.max(settings.minRounds, Math.min(settings.maxRounds, Math.floor((settings.secondsPerBatch * 1000) / perRound)));
      const c = await compareLatency(runners, { warmup: 0, rounds });
      batches.push({ batchSize, model: c.stats[1]!, reference: c.stats[0]!, speedup: c.pairedSpeedup[1]!.median, pairedSpeedup: c.pairedSpeedup[1]!, medianRatio: c.speedup[1]! });
    }
    return { engine: mine.engine, reference: model === reference ? 'itself' : 'baseline', batches };
  } finally {
    mine.dispose();
    theirs.dispose();
  }
}

/** `batch 1: 0.102 ms (IQR 0.098–0.110), 2.41× vs baseline` for logs and tables. */
export function describeLatency(r: LatencyReport | undefined): string {
  if (!r) return 'latency not measured';
  return r.batches
    .map((b) => `batch ${b.batchSize}: ${b.model.median.toFixed(3)} ms (IQR ${b.model.p25.toFixed(3)}–${b.model.p75.toFixed(3)}), ${b.speedup.toFixed(2)}× vs ${r.reference}`)
    .join('; ');
}
