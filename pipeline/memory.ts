/**
 * Working-memory planning: how many samples an inference or training batch may hold, so that peak memory follows
 * the configured `memoryBudgetMB` and never the size of the data set. A model's per-sample footprint comes from its
 * inferred layer shapes, scaled by factors measured on onnxruntime-node (1 thread, MobileNetV2 at 224×224×3, where
 * the largest layer output is 4.7 MB and all outputs sum to 83 MB per sample):
 * - inference held ≈ 25 MB per sample of a batch (batch 64: 1.8 GB) ≈ 5.3× the largest layer output;
 * - a training step (forward, backward, Adam) held ≈ 180 MB per sample ≈ 2.1× the sum of all layer outputs (the
 *   forward activations are kept for the backward pass, and each gets a gradient).
 * The factors below round those up. Everything here is arithmetic on shapes: deterministic, no measuring.
 */
import { inferShapes } from './graph/shapes.ts';
import type { ModelIR } from './ir.ts';

/** The default `memoryBudgetMB`: MobileNetV2 at 224×224 stays well under 4 GB peak with it (see README, bench). */
export const DEFAULT_MEMORY_BUDGET_MB = 2048;

const MB = 1024 * 1024;
/** Inference bytes per sample ≈ this × (the largest layer output + the input). */
const INFERENCE_FACTOR = 6;
/** Training bytes per sample ≈ this × (the sum of all layer outputs). */
const TRAINING_FACTOR = 2.5;

export interface Footprint {
  /** float32 bytes of one sample's input. */
  input: number;
  /** float32 bytes of the largest layer output, per sample. */
  largest: number;
  /** float32 bytes of all layer outputs together, per sample. */
  total: number;
}

/** Per-sample activation sizes, or undefined when shapes cannot be inferred (a layer shapes.ts does not know). */
export function footprint(ir: ModelIR): Footprint | undefined {
  let shapes: Map<string, number[]>;
  try {
    shapes = inferShapes(ir);
  } catch {
    return undefined;
  }
  const bytes = (s: number[]) => 4 * s.reduce((a, b) => a * b, 1);
  let largest = 0;
  let total = 0;
  for (const s of shapes.values()) {
    const b = bytes(s);
    largest = Math.max(largest, b);
    total += b;
  }
  const input = bytes(shapes.get(ir.inputs[0]!) ?? []);
  return { input, largest, total };
}

export const inferenceBytesPerSample = (f: Footprint) => INFERENCE_FACTOR * (f.largest + f.input);
export const trainingBytesPerSample = (f: Footprint) => TRAINING_FACTOR * f.total;

/** The largest batch ≤ `requested` whose per-sample cost fits `budgetBytes` (at least 1). */
export function batchWithin(requested: number, bytesPerSample: number, budgetBytes: number): number {
  if (!(bytesPerSample > 0)) return requested;
  return Math.max(1, Math.min(requested, Math.floor(budgetBytes / bytesPerSample)));
}

/** Inference batch for `ir` within `budgetBytes`; `requested` when the footprint is unknown. */
export function inferenceBatch(ir: ModelIR, requested: number, budgetBytes: number): number {
  const f = footprint(ir);
  return f ? batchWithin(requested, inferenceBytesPerSample(f), budgetBytes) : requested;
}

/** Training batch for `ir` within `budgetBytes`; `requested` when the footprint is unknown. */
export function trainingBatch(ir: ModelIR, requested: number, budgetBytes: number): number {
  const f = footprint(ir);
  return f ? batchWithin(requested, trainingBytesPerSample(f), budgetBytes) : requested;
}

export const megabytes = (mb: number) => mb * MB;
