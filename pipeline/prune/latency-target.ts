/**
 * A latency target (`target: { latency: 0.6 }`: at most 60% of the input model's batch-1 latency) becomes a MACs
 * goal the search can allocate for: the allocation at a MACs fraction is built (weights do not matter for speed, so
 * no reconstruction), its batch-1 latency measured on onnxruntime interleaved with the input model's (median of
 * the runs, pipeline/measure/latency.ts), and the MACs fraction bisected (in log space) for the least pruning that
 * meets the target. Latency depends on the machine, so this is the one prune setting whose result does.
 */
import type { ModelIR } from '../ir.ts';
import { compareOnnxLatency, roundsForWork } from '../measure/latency.ts';
import { planFromRatios } from './allocate.ts';
import { removeChannels } from './remove-channels.ts';
import { allocationForFraction, type GroupSensitivity, type SearchSpace } from './search.ts';

export interface LatencyProbe {
  macsFraction: number;
  /** Candidate median / input median, batch 1. */
  latencyRatio: number;
}

export interface LatencyGoal {
  /** The MACs fraction to search for (undefined: no allocation meets the target). */
  macsFraction?: number;
  probes: LatencyProbe[];
}

/** Batch-1 latency of `candidate` as a fraction of the input model's. */
export type LatencyRatio = (candidate: ModelIR) => Promise<number>;

/** Interleaved onnxruntime runs of the input model and the candidate on one sample: the ratio of their medians. */
export function onnxLatencyRatio(input: ModelIR, sample: { x: Float32Array; sampleShape: number[] }, macs: number): LatencyRatio {
  const rounds = roundsForWork(macs, 1);
  return async (candidate) => {
    const [b1] = await compareOnnxLatency([{ name: 'input', ir: input }, { name: 'candidate', ir: candidate }], sample, { batchSizes: [1], rounds: () => rounds });
    return b1!.models[1]!.stats.median / b1!.models[0]!.stats.median;
  };
}

/** `space.metric` must be 'macs'. */
export async function macsForLatency(
  space: SearchSpace, sensitivity: GroupSensitivity[] | undefined, target: number, latencyRatio: LatencyRatio,
  opts: { iterations?: number; log?: (m: string) => void } = {},
): Promise<LatencyGoal> {
  const probes: LatencyProbe[] = [];
  const measure = async (macsFraction: number): Promise<number | undefined> => {
    const ratios = allocationForFraction(space, sensitivity, macsFraction);
    if (!ratios) return undefined;
    const candidate: ModelIR = removeChannels(space.ir, space.planner.analysis, planFromRatios(space.planner, ratios));
    const ratio = await latencyRatio(candidate);
    probes.push({ macsFraction, latencyRatio: ratio });
    opts.log?.(`latency target ${target}: MACs ×${macsFraction.toFixed(3)} runs at ×${ratio.toFixed(3)} of the input model's latency`);
    return ratio;
  };
  // Bracket: `hi` misses the target (the input model itself), `lo` meets it once found.
  let hi = 1;
  let lo: number | undefined;
  let guess = target;
  for (let i = 0; i < 4 && lo === undefined; i++) {
    const r = await measure(guess);
    if (r === undefined) break;
    if (r <= target) lo = guess;
    else [hi, guess] = [guess, guess * Math.max(0.3, target / r)];
  }
  if (lo === undefined) return { probes };
  for (let i = 0; i < (opts.iterations ?? 4); i++) {
    const mid = Math.sqrt(lo * hi);
    const r = await measure(mid);
    if (r !== undefined && r <= target) lo = mid;
    else hi = mid;
  }
  return { macsFraction: lo, probes };
}
