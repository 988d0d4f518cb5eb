/** The measurements taken after every stage; report.json's `M`. */
export interface Metrics {
  /**
   * The run's quality metric (pipeline/quality.ts) on the validation split (carved from training data): what the
   * gate compares. Top-1 accuracy; top-1 agreement with the input model (labels: 'teacher'); or 1 − relative MSE
   * against the input model's outputs (task: 'regress').
   */
  valAccuracy: number;
  /** The same on the test split: reported, never used for a decision. */
  testAccuracy: number;
  /** Mean cross-entropy on the validation split (relative MSE for task 'regress'). */
  loss: number;
  /** Task 'regress': relative MSE and PSNR (dB; null when identical) of the outputs against the input model's. */
  fidelity?: { valRelativeMse: number; testRelativeMse: number; valPsnr: number | null; testPsnr: number | null };
  params: number;
  /** Bytes of the stage's model as written to disk (model.json + weight shards). */
  bytes: number;
  /** Multiply-accumulates per sample. */
  macs: number;
  /** Mean wall time of single-sample inference on the evaluation engine, in milliseconds. */
  latencyMs: number;
}

/** A model's quality on one split (evaluate.ts measureQuality): `accuracy` is the metric gates and searches compare. */
export interface Accuracy {
  /** Top-1 accuracy (or agreement with the teacher), or 1 − relative MSE against the teacher's outputs. */
  accuracy: number;
  /** Mean cross-entropy, or relative MSE. */
  loss: number;
  count: number;
  /** Against teacher outputs only. */
  relativeMse?: number;
  psnr?: number | null;
  /** Index of the first sample whose outputs hold NaN or ±Infinity, if any. */
  firstNonFinite?: number;
}
