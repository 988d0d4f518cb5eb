/** A labelled set of samples kept as flat arrays; batches are cut from it, never one tensor of it all. */
export interface LabelledSet {
  /** count * prod(sampleShape) values, sample-major (NHWC for images). */
  x: Float32Array;
  /** Class index per sample. */
  y: Int32Array;
  count: number;
  /** Shape of one sample, e.g. [28, 28, 1]. */
  sampleShape: number[];
  numClasses: number;
}

/** train: fine-tuning and calibration; validation: searches and gates; test: reported only, never tuned on. */
export interface DataSplits {
  train: LabelledSet;
  validation: LabelledSet;
  test: LabelledSet;
  /** sha256 over the splits' contents and how they were made; part of every cache key. */
  fingerprint: string;
  /** Human-readable description of the source for the report, e.g. `{ source: 'idx', dir: '...' }`. */
  describe: Record<string, unknown>;
}
