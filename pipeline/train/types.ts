/**
 * The fine-tuning contract: stages (prune, separable, quantize) recover accuracy through a FineTuner without
 * knowing which engine trains (tfjs on wasm/tfjs-node, or onnxruntime training-step graphs).
 */
import type { LabelledSet } from '../data/types.ts';
import type { ModelIR } from '../ir.ts';

export interface FineTuneOptions {
  train: LabelledSet;
  /** Knowledge distillation: soft targets from this model (typically the stage's input model). */
  teacher?: ModelIR;
  /** Softmax temperature for the soft targets. */
  temperature: number;
  /** Weight of the distillation loss; (1 − alpha) goes to cross-entropy on the hard labels. */
  alpha: number;
  /** Training stops at whichever limit comes first. At least one must be set. */
  epochs?: number;
  maxSamples?: number;
  maxSeconds?: number;
  batchSize: number;
  learningRate: number;
  optimizer: 'adam' | 'sgd-momentum';
  /**
   * BatchNormalization while training: 'batch' statistics (and running ones updated), or the 'moving' ones frozen.
   * Default 'batch'. onnxruntime only: the tfjs fallback always trains with batch statistics.
   */
  batchNorm?: 'batch' | 'moving';
  /** Seeds batch order and dropout masks. */
  seed: number;
  onProgress?: (p: { samples: number; loss: number; seconds: number }) => void;
}

export interface FineTuneResult {
  ir: ModelIR;
  /** Which engine trained, for the report: 'ort', 'tfjs-wasm', 'tfjs-tfjs-node', ... */
  engine: string;
  samples: number;
  seconds: number;
  finalLoss: number;
}

export type FineTuner = (ir: ModelIR, opts: FineTuneOptions) => Promise<FineTuneResult>;
