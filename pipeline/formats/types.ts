/**
 * The export-format contract. A format is one module under pipeline/formats/ registered in index.ts; the `export`
 * stage knows formats only through this interface: it writes each requested format, runs the format's official
 * checker when one is installed, loads the artifact back from disk with the runtime a user would use, and
 * checks the loaded artifact against the IR as the format's parity expectation says.
 */
import type { z } from 'zod';
import type { DataSplits } from '../data/types.ts';
import type { Predictor } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';

export interface FormatContext<Options> {
  /** The format's own options, validated by its schema (the export stage's `<format id>` option object). */
  options: Options;
  /** Training data (e.g. calibration for formats that quantise activations) and the split the gate uses. */
  data: DataSplits;
  seed: number;
  log(message: string): void;
}

/** What `write` put on disk. */
export interface WrittenArtifact {
  /** Every file that makes up the artifact (absolute paths): what a user ships, summed into `bytes`. */
  files: string[];
  notes?: string[];
}

/** The outcome of a format's official validator. */
export type CheckResult =
  | { checker: string; status: 'passed' }
  | { checker: string; status: 'failed'; message: string }
  /** The validator is not installed here: nothing was checked (said in the report, never a failure). */
  | { checker: string; status: 'unavailable'; message: string };

/**
 * How the loaded artifact must agree with the IR it was written from.
 * - `float`: the artifact computes what the IR computes (float32 numerics, exactly encoded weights): it must meet
 *   the export stage's top-1 agreement and max |Δ| thresholds.
 * - `quantized`: the artifact's numerics differ by design (e.g. int8 activations): its quality on the validation
 *   split must stay within the budget floor the stage was given; agreement and |Δ| are reported, not gated.
 */
export type ParityExpectation = { kind: 'float' } | { kind: 'quantized'; why: string };

export interface ExportFormat<Schema extends z.ZodType = z.ZodType> {
  /** Fixed id: the export stage's `formats` entries, report.json's `exports` keys. */
  id: string;
  /** One line for the README and --help. */
  description: string;
  /** Where the artifact goes, relative to the export stage's folder (e.g. `onnx/model.onnx`). */
  artifact: string;
  /** The format's options (every option defaulted and described); `{}` must parse. */
  options: Schema;
  write(ir: ModelIR, file: string, ctx: FormatContext<z.output<Schema>>): Promise<WrittenArtifact>;
  /** Loads the artifact at `file` back from disk in the runtime users run it in, as a Predictor. */
  load(file: string, options: z.output<Schema>): Promise<Predictor>;
  /**
   * For a format whose runtime is an optional dependency: why artifacts cannot be loaded here (e.g. "… is not
   * installed"), or undefined when they can. The export stage then reports the artifact written but not verified.
   */
  unavailable?(): string | undefined;
  /**
   * Whether the format can hold this model, answered in memory without writing a file (`slimnet inspect`):
   * undefined when it can, else why not (the first layer its writer does not support, …).
   */
  coverage(ir: ModelIR): Promise<string | undefined>;
  /** The format's official validator, when the format has one. */
  check?(file: string): Promise<CheckResult>;
  parity(ir: ModelIR, options: z.output<Schema>): ParityExpectation;
}
