/**
 * How the prune stage spends its memory budget: candidate evaluations run `concurrency` at a time (one
 * onnxruntime session of 1 thread each), each with an inference batch and a reconstruction share that fit; the
 * original model's calibration rows are cached within their own share; fine-tuning (which runs alone) gets most
 * of the budget for its batch. Pure arithmetic on the model's shapes, so the plan — and the result — does not
 * depend on the machine, except for the default concurrency (the number of cores), which changes speed only.
 */
import { availableParallelism } from 'node:os';
import { countParams, type ModelIR } from '../ir.ts';
import { batchWithin, footprint, inferenceBytesPerSample, megabytes, trainingBytesPerSample } from '../memory.ts';

export interface WorkPlan {
  memoryBudgetMB: number;
  /** Candidate evaluations at once. */
  concurrency: number;
  /** Inference batch of one candidate evaluation. */
  evalBatch: number;
  /** Bytes one candidate's reconstruction (a fit and its calibration pass) may use. */
  reconstructBytes: number;
  /** Bytes the original model's reconstruction rows may keep between candidates. */
  cacheBytes: number;
  /** Bytes of the search's reconstructed candidates kept for recovery (searched-models.ts). */
  searchedBytes: number;
  /** Fine-tuning batch (the configured one, lowered to fit). */
  trainBatch: number;
  /** Calibration samples the data-driven criteria (taylor, activation) read at once. */
  criterionSamples: number;
}

/**
 * Per candidate slot: its inference batch and its reconstruction fit each get a fixed share of the budget — fixed,
 * not divided by the concurrency, so batch sizes and sampled rows (and so the result) do not depend on the number
 * of cores; the concurrency is then what fits in CANDIDATES_SHARE. The original's rows get CACHE_SHARE.
 */
const EVAL_SHARE = 0.2;
const FIT_SHARE = 0.1;
const CANDIDATES_SHARE = 0.75;
const CACHE_SHARE = 0.2;
const SEARCHED_SHARE = 0.1;
/** Fine-tuning runs alone; the rest stays for the teacher's inference and the data. */
const TRAIN_SHARE = 0.75;

export function planWork(ir: ModelIR, opts: { memoryBudgetMB: number; concurrency?: number; evalBatch: number; trainBatch: number; calibrationSamples: number }): WorkPlan {
  const budget = megabytes(opts.memoryBudgetMB);
  const f = footprint(ir);
  const perSample = f ? inferenceBytesPerSample(f) : 0;
  // Each candidate also holds its own copy of the weights a few times (IR, ONNX bytes, session).
  const weights = 4 * countParams(ir) * 3;
  const evalBatch = batchWithin(opts.evalBatch, perSample, budget * EVAL_SHARE);
  const reconstructBytes = budget * FIT_SHARE;
  const slot = weights + evalBatch * perSample + reconstructBytes;
  const fits = Math.max(1, Math.floor((budget * CANDIDATES_SHARE) / slot));
  const concurrency = Math.max(1, Math.min(opts.concurrency ?? availableParallelism(), fits));
  const trainBatch = f ? batchWithin(opts.trainBatch, trainingBytesPerSample(f), budget * TRAIN_SHARE) : opts.trainBatch;
  const criterionSamples = f ? batchWithin(opts.calibrationSamples, f.input, budget * 0.1) : opts.calibrationSamples;
  return { memoryBudgetMB: opts.memoryBudgetMB, concurrency, evalBatch, reconstructBytes, cacheBytes: budget * CACHE_SHARE, searchedBytes: budget * SEARCHED_SHARE, trainBatch, criterionSamples };
}
