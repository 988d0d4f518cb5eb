/**
 * The sensitivity analysis's candidates, measured in chunks that share their forward prefix: each candidate prunes
 * one group, so up to that group's first layer it computes what the input model computes. A chunk's candidates are
 * built (pruned and reconstructed, `concurrency` at a time on the search's queue) and then measured together by
 * ctx.evaluateCandidates, which runs the input model once per batch up to every candidate's cut and each candidate
 * only from there (pipeline/evaluate-shared.ts). Chunks hold as many candidates as a fixed share of the memory budget
 * holds, so memory does not grow with the number of groups; chunking is arithmetic on the model's size (not the
 * machine), so the results do not depend on it.
 */
import type PQueue from 'p-queue';
import { countParams, type ModelIR } from '../ir.ts';
import { megabytes } from '../memory.ts';
import type { StageContext } from '../stage.ts';
import type { CandidateScore } from './search.ts';

/** Share of the memory budget a chunk's candidates (their weights and suffix sessions) may hold. */
const CHUNK_SHARE = 0.25;
/** Bytes per parameter a waiting candidate holds: its IR (4), its suffix session (≤ 4) and the ONNX bytes while it loads (≤ 4). */
const BYTES_PER_PARAM = 12;

/** What sharing the prefix saved over a whole analysis (deterministic: MACs by the IR's count, not time). */
export interface PrefixReuseSummary {
  candidates: number;
  /** Candidates that ran only their suffix (the rest changed from the model's first layer on). */
  suffixOnly: number;
  /** Chunks, each one prefix run per batch. */
  chunks: number;
  /** Forward MACs over the samples measured: every candidate run whole vs the shared prefixes plus the suffixes. */
  macsWhole: number;
  macsShared: number;
}

export function candidatesPerChunk(ir: ModelIR, memoryBudgetMB: number): number {
  return Math.max(1, Math.floor((megabytes(memoryBudgetMB) * CHUNK_SHARE) / (BYTES_PER_PARAM * Math.max(1, countParams(ir)))));
}

export interface SharedEvaluatorOptions {
  ir: ModelIR;
  ctx: StageContext;
  /** The candidate for a plan (pruned, reconstructed). */
  build: (removed: Set<number>) => Promise<ModelIR>;
  queue: PQueue;
  samples?: number;
  batchSize: number;
  concurrency: number;
  /** Called as candidates are built (they are measured a chunk at a time): progress through the slow part. */
  onBuilt?: (done: number, total: number) => void;
}

/** An `evaluateAll` for sensitivityAnalysis, and the account of what it saved. */
export function sharedPlanEvaluator(opts: SharedEvaluatorOptions) {
  let summary: PrefixReuseSummary | undefined;
  let seconds = 0;
  const perChunk = candidatesPerChunk(opts.ir, opts.ctx.memoryBudgetMB);
  const evaluateAll = async (plans: Set<number>[], onEvaluated?: (done: number, total: number) => void): Promise<CandidateScore[]> => {
    const started = performance.now();
    const scores: CandidateScore[] = [];
    let built = 0;
    for (let start = 0; start < plans.length; start += perChunk) {
      const chunk = plans.slice(start, start + perChunk);
      const candidates = await Promise.all(chunk.map((removed) => opts.queue.add(async () => {
        const c = await opts.build(removed);
        opts.onBuilt?.(++built, plans.length);
        return c;
      }) as Promise<ModelIR>));
      const { results, reuse } = await opts.ctx.evaluateCandidates(opts.ir, candidates, { samples: opts.samples, batchSize: opts.batchSize, concurrency: opts.concurrency });
      scores.push(...results.map((r) => ({ accuracy: r.accuracy, loss: r.loss })));
      if (reuse) {
        summary ??= { candidates: 0, suffixOnly: 0, chunks: 0, macsWhole: 0, macsShared: 0 };
        summary.candidates += reuse.candidates;
        summary.suffixOnly += reuse.suffixOnly;
        summary.chunks += 1;
        summary.macsWhole += reuse.macsWhole;
        summary.macsShared += reuse.macsShared;
      }
      onEvaluated?.(scores.length, plans.length);
    }
    seconds += (performance.now() - started) / 1000;
    return scores;
  };
  return { evaluateAll, summary: () => summary, seconds: () => seconds };
}
