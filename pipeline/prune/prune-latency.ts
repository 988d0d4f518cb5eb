/**
 * The prune stage's speed report: onnxruntime-node latency (1 thread) of the input and the pruned model,
 * interleaved, at batch 1 and batch 32, each as median and spread, with the speed-up (pipeline/measure/latency.ts).
 */
import { takeFirst } from '../data/splits.ts';
import type { LabelledSet } from '../data/types.ts';
import { isSlimnetError } from '../errors.ts';
import type { ModelIR } from '../ir.ts';
import { compareOnnxLatency, roundsForWork, type LatencyStats, type OrtTiming, type Spread } from '../measure/latency.ts';

export const LATENCY_BATCHES = [1, 32];

export interface PruneLatency {
  engine: 'onnxruntime-node';
  threads: 1;
  /** What was timed (pipeline/measure/latency.ts OrtTiming): onnxruntime's Run, or its public API as a fallback. */
  method: OrtTiming;
  batches: { batchSize: number; before: LatencyStats; after: LatencyStats; speedup: number; pairedSpeedup: Spread }[];
}

export async function measurePruneLatency(input: ModelIR, output: ModelIR, data: LabelledSet, macs: number, log: (m: string) => void): Promise<PruneLatency | undefined> {
  let batches;
  try {
    batches = await compareOnnxLatency([{ name: 'before', ir: input }, { name: 'after', ir: output }], takeFirst(data, Math.max(...LATENCY_BATCHES)), {
      batchSizes: LATENCY_BATCHES, rounds: (b) => roundsForWork(macs, b), threads: 1,
    });
  } catch (e) {
    if (isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED') {
      log(`latency not measured: ${e.oneLine()}`);
      return undefined;
    }
    throw e;
  }
  const result: PruneLatency = {
    engine: 'onnxruntime-node',
    threads: 1,
    method: batches[0]?.method ?? 'ort-run',
    batches: batches.map((b) => ({ batchSize: b.batchSize, before: b.models[0]!.stats, after: b.models[1]!.stats, speedup: b.speedup[1]!, pairedSpeedup: b.pairedSpeedup[1]! })),
  };
  for (const b of result.batches) {
    log(`latency (onnxruntime, 1 thread, batch ${b.batchSize}): ${b.before.median.toFixed(3)} → ${b.after.median.toFixed(3)} ms (median of ${b.after.runs}), ${b.speedup.toFixed(2)}× faster`);
  }
  return result;
}
