/** A labelled set of samples kept as flat arrays; batches are cut from it, never one tensor of it all. */
export interface LabelledSet {
  /** count * prod(sampleShape) values, sample-major (NHWC for images). */
  x: Float32Array;
  /** Class index per sample: the data's labels, or the teacher's top-1 class (labels: 'teacher'); all 0 for data without labels. */
  y: Int32Array;
  /**
   * The teacher's outputs (count × values per output sample), for models measured by fidelity to the input model's
   * outputs (task 'regress'): quality is then 1 − relative MSE against these instead of top-1 accuracy against `y`.
   */
  targets?: Float32Array;
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
  /** False when the source had no labels: y is all 0 until the teacher labels it (pipeline/quality.ts). Default true. */
  labelled?: boolean;
  /** Human-readable description of the source for the report, e.g. `{ source: 'idx', dir: '...' }`. */
  describe: Record<string, unknown>;
  /** Where the validation split came from (set by makeSplits; absent in hand-built splits). */
  validationSource?: ValidationSource;
}

/** Carved from the training data (seeded, stratified), or a separate held-out set the user named. */
export type ValidationSource =
  | { kind: 'carved'; fraction: number; seed: number }
  | { kind: 'separate'; source: string; dir?: string };
