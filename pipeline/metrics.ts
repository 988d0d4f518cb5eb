/** The measurements taken after every stage; report.json's `M`. */
export interface Metrics {
  /** Top-1 accuracy on the validation split (carved from training data): what the gate compares. */
  valAccuracy: number;
  /** Top-1 accuracy on the test split: reported, never used for a decision. */
  testAccuracy: number;
  /** Mean cross-entropy on the validation split. */
  loss: number;
  params: number;
  /** Bytes of the stage's model as written to disk (model.json + weight shards). */
  bytes: number;
  /** Multiply-accumulates per sample. */
  macs: number;
  /** Mean wall time of single-sample inference on the evaluation engine, in milliseconds. */
  latencyMs: number;
}

export interface Accuracy {
  accuracy: number;
  loss: number;
  count: number;
}
