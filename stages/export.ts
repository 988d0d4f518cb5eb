/**
 * The `export` stage: for each requested format (pipeline/formats/), writes the artifact, runs the format's official
 * checker when it is installed, loads the artifact back from disk with the runtime users will use and checks it
 * against the model as the format expects (float formats: top-1 agreement and max |Δ| on the test split; quantised
 * formats: validation quality within the budget floor). Any format that misses is a failed verdict (exit 1). A format
 * whose runtime is not installed here (TFLite's is optional) is written and reported "written, not verified": a
 * failed verdict too, unless `allowUnverified`. Batch-1 latency of every loaded artifact is measured side by side.
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { LabelledSet } from '../pipeline/data/types.ts';
import { predictSet, tfjsPredictor, type Predictor } from '../pipeline/evaluate.ts';
import { FORMAT_IDS, FORMATS, type CheckResult, type ExportFormat, type ParityExpectation } from '../pipeline/formats/index.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { comparePredictorLatency, type LatencyStats } from '../pipeline/measure/latency.ts';
import { checkParity, type ParityReport } from '../pipeline/parity.ts';
import type { StageContext, StageDefinition, StageOutput } from '../pipeline/stage.ts';

/** Each format's own options live under its id (e.g. `onnx: { opset: 15 }`). */
const formatOptions = Object.fromEntries(Object.values(FORMATS).map((f) => [f.id, f.options.prefault({}).describe(`${f.id} options`)]));

const options = z.strictObject({
  formats: z.array(z.enum(FORMAT_IDS)).min(1).default(['tfjs', 'onnx']).describe(`formats to write: ${FORMAT_IDS.join(', ')}`),
  minTop1Agreement: z.number().min(0).max(1).default(0.999).describe("float formats: fraction of test samples whose top-1 class must match the model (task 'classify')"),
  maxAbsDiff: z.number().nonnegative().default(1e-4).describe('float formats: largest allowed |difference| of any output value against the model'),
  batchSize: z.number().int().positive().default(256).describe('batch size of the parity run'),
  check: z.boolean().default(true).describe("run each format's official checker when it is installed (ONNX: python3's onnx package)"),
  allowUnverified: z.boolean().default(false).describe('a format whose runtime is not installed (TFLite: tfjs-tflite-node) is written and reported unverified instead of failing the stage'),
  latencyRuns: z.number().int().nonnegative().default(50).describe('batch-1 inferences timed per format, interleaved across formats (0: none)'),
  ...formatOptions,
}).refine((o) => new Set(o.formats).size === o.formats.length, { message: 'list each format once', path: ['formats'] });
type ExportOptions = z.output<typeof options> & Record<string, unknown>;

/** What the report keeps per format. */
export interface FormatOutcome {
  artifact: string;
  /** Bytes of every file of the artifact, as written. */
  bytes: number;
  expectation: ParityExpectation['kind'];
  /** False when the format's runtime is not installed here: the artifact was written but never loaded. */
  verified: boolean;
  /** Why it could not be verified (verified: false). */
  unverifiedBecause?: string;
  /** The loaded artifact against the model on the test split (verified formats). */
  parity?: ParityReport;
  /** Quantised formats: the artifact's validation quality, which the budget floor gates. */
  validation?: { accuracy: number; floor: number };
  /** Batch-1 latency of the loaded artifact in its runtime, interleaved with the other formats'. */
  latencyMs?: LatencyStats;
  check?: CheckResult;
  /** Why the format failed, when it did. */
  problem?: string;
}

export const exportStage: StageDefinition<typeof options> = {
  name: 'export',
  changesAccuracy: false,
  description: 'Write each export format (TF.js, ONNX, …) and prove each artifact reproduces the model in its own runtime.',
  options,
  create: (opts) => ({
    name: 'export',
    run: (ir, ctx) => runExport(ir, ctx, opts as ExportOptions),
  }),
  renderDetails(details) {
    const formats = (details as { formats?: Record<string, FormatOutcome> }).formats ?? {};
    const checkText = (c?: CheckResult) => (!c ? '–' : c.status === 'passed' ? 'passed' : `${c.status}: ${c.message}`);
    const latencyText = (l?: LatencyStats) => (l ? `${l.median.toFixed(3)} ms (${l.p25.toFixed(3)}–${l.p75.toFixed(3)})` : '–');
    const row = (id: string, f: FormatOutcome) => {
      const status = `${f.expectation}${f.problem ? ' (FAILED)' : ''}`;
      if (!f.parity) return `| ${id} | ${f.bytes.toLocaleString('en-US')} | ${status} | written, not verified: ${f.unverifiedBecause} | | | | ${checkText(f.check)} |`;
      return `| ${id} | ${f.bytes.toLocaleString('en-US')} | ${status} | ${(f.parity.top1Agreement * 100).toFixed(2)}% | ${f.parity.maxAbsDiff.toExponential(2)} | ` +
        `${((f.parity.accuracy ?? 0) * 100).toFixed(2)}% | ${latencyText(f.latencyMs)} | ${checkText(f.check)} |`;
    };
    return [
      'Each artifact loaded back from disk in its own runtime and run on the test split, against the model it was written from',
      '(latency: median batch-1 inference with quartiles, interleaved across formats):',
      '',
      '| format | bytes | parity | top-1 agreement | max abs diff | test accuracy | latency | official checker |',
      '|---|---|---|---|---|---|---|---|',
      ...Object.entries(formats).map(([id, f]) => row(id, f)),
    ];
  },
};

/** `formats`: the registry (tests pass a variant). */
export async function runExport(ir: ModelIR, ctx: StageContext, opts: ExportOptions, formats: Readonly<Record<string, ExportFormat>> = FORMATS): Promise<StageOutput> {
  const test = ctx.data.test;
  const reference = await predictAndDispose(await tfjsPredictor(ir), test, opts.batchSize);
  const outcomes: Record<string, FormatOutcome> = {};
  const exports: Record<string, string> = {};
  const problems: string[] = [];
  const notes: string[] = [];
  const loaded: Array<{ id: string; predictor: Predictor }> = [];
  try {
    for (const id of opts.formats) {
      const format = formats[id]!;
      const formatOpts = opts[id];
      const file = path.join(ctx.stageDir, format.artifact);
      const written = await format.write(ir, file, { options: formatOpts, data: ctx.data, seed: ctx.seed, log: (m) => ctx.log(`${id}: ${m}`) });
      exports[id] = format.artifact;
      notes.push(...(written.notes ?? []));
      const bytes = written.files.reduce((n, f) => n + statSync(f).size, 0);
      const unavailable = format.unavailable?.();
      const outcome = unavailable
        ? unverified(format, formatOpts, ir, unavailable, opts)
        : await verify(format, formatOpts, ir, file, reference, ctx, opts, (predictor) => loaded.push({ id, predictor }));
      outcome.bytes = bytes;
      outcomes[id] = outcome;
      ctx.log(`${id}: ${describe(outcome)}`);
      if (outcome.problem) problems.push(`${id} export (${format.artifact}): ${outcome.problem}`);
      else if (!outcome.verified) notes.push(`${id}: written, not verified (${outcome.unverifiedBecause})`);
    }
    const latencies = await comparePredictorLatency(loaded.map((l) => l.predictor), test, opts.latencyRuns);
    latencies.forEach((latency, i) => (outcomes[loaded[i]!.id]!.latencyMs = latency));
    notes.push(...slowerQuantized(loaded, outcomes));
  } finally {
    for (const l of loaded) l.predictor.dispose();
  }
  const parity = Object.fromEntries(Object.entries(outcomes).flatMap(([id, o]) => (o.parity ? [[id, o.parity]] : [])));
  // The TF.js export, when written, is the stage's model: its size is what `bytes` reports.
  const output: StageOutput = { ir, modelJson: exports.tfjs, exports, details: { formats: outcomes, parity } };
  if (notes.length > 0) output.notes = notes;
  if (problems.length > 0) output.verdict = { status: 'failed', exitClass: 1, reason: problems.join('; ') };
  return output;
}

/**
 * Quantised artifacts that run slower than a float artifact in the same runtime (int8 kernels can be slower than
 * float ones on a given CPU): said, with both medians, so nobody ships int8 for speed it does not have.
 */
function slowerQuantized(loaded: Array<{ id: string; predictor: Predictor }>, outcomes: Record<string, FormatOutcome>): string[] {
  const notes: string[] = [];
  for (const q of loaded) {
    const ql = outcomes[q.id]!.latencyMs;
    if (outcomes[q.id]!.expectation !== 'quantized' || !ql) continue;
    for (const f of loaded) {
      const fl = outcomes[f.id]!.latencyMs;
      if (outcomes[f.id]!.expectation !== 'float' || f.predictor.engine !== q.predictor.engine || !fl || fl.median >= ql.median) continue;
      notes.push(`${q.id}: slower than ${f.id} in the same runtime (${q.predictor.engine}): median ${ql.median.toFixed(3)} ms vs ${fl.median.toFixed(3)} ms at batch 1`);
    }
  }
  return notes;
}

function describe(o: FormatOutcome): string {
  const size = `${o.bytes.toLocaleString('en-US')} bytes`;
  if (!o.parity) return `${size}, written, not verified (${o.unverifiedBecause})${o.problem ? ' — FAILED' : ''}`;
  const p = o.parity;
  return `${size}, top-1 agreement ${(p.top1Agreement * 100).toFixed(2)}%, max |Δ| ${p.maxAbsDiff.toExponential(2)}, ` +
    `${p.accuracy !== undefined ? `test accuracy ${(p.accuracy * 100).toFixed(2)}%` : 'no labels'}${o.check ? `, checker ${o.check.status}` : ''}${o.problem ? ` — FAILED: ${o.problem}` : ''}`;
}

/** A format whose runtime is not installed: written, never loaded; a problem unless the options allow it. */
function unverified(format: ExportFormat, formatOpts: unknown, ir: ModelIR, reason: string, opts: ExportOptions): FormatOutcome {
  const outcome: FormatOutcome = { artifact: format.artifact, bytes: 0, expectation: format.parity(ir, formatOpts).kind, verified: false, unverifiedBecause: reason };
  if (!opts.allowUnverified) outcome.problem = `written, not verified: ${reason} (or set the export option allowUnverified: true)`;
  return outcome;
}

/** Checks, loads and compares one artifact; the loaded predictor is handed to `keep` (the caller disposes it). */
async function verify(
  format: ExportFormat, formatOpts: unknown, ir: ModelIR, file: string, reference: Float32Array, ctx: StageContext, opts: ExportOptions,
  keep: (predictor: Predictor) => void,
): Promise<FormatOutcome> {
  const expectation = format.parity(ir, formatOpts);
  const check = opts.check && format.check ? await format.check(file) : undefined;
  const predictor = await format.load(file, formatOpts);
  keep(predictor);
  const test = ctx.data.test;
  // A regress model's outputs have no classes: no labels to score, and top-1 agreement is not a requirement.
  const classify = ctx.quality.task === 'classify';
  const parity = checkParity({ reference, candidate: await predictSet(predictor, test, opts.batchSize), samples: test.count, ...(classify ? { labels: test.y } : {}) });
  let validation: FormatOutcome['validation'];
  if (expectation.kind === 'quantized') {
    validation = { accuracy: (await ctx.measure(predictor, 'validation')).accuracy, floor: ctx.budget.floor };
  }
  const outcome: FormatOutcome = { artifact: format.artifact, bytes: 0, expectation: expectation.kind, verified: true, parity };
  if (validation) outcome.validation = validation;
  if (check) outcome.check = check;
  const problem = check?.status === 'failed' ? `the official checker (${check.checker}) rejects it: ${check.message}` : parityProblem(parity, expectation, validation, classify ? opts : { ...opts, minTop1Agreement: 0 });
  if (problem) outcome.problem = problem;
  return outcome;
}

/** Why a loaded artifact does not meet its format's expectation, or undefined when it does. */
export function parityProblem(p: ParityReport, expectation: ParityExpectation, validation: FormatOutcome['validation'], opts: Pick<ExportOptions, 'minTop1Agreement' | 'maxAbsDiff'>): string | undefined {
  if (expectation.kind === 'quantized') {
    if (validation && validation.accuracy >= validation.floor - 1e-9) return undefined;
    return `validation accuracy ${validation?.accuracy.toFixed(4)} of the ${expectation.why} artifact is below the budget floor ${validation?.floor.toFixed(4)}`;
  }
  if (p.top1Agreement >= opts.minTop1Agreement && p.maxAbsDiff <= opts.maxAbsDiff) return undefined;
  return `the artifact disagrees with the model: top-1 agreement ${(p.top1Agreement * 100).toFixed(2)}% (need ≥ ${(opts.minTop1Agreement * 100).toFixed(2)}%), ` +
    `max |Δ| ${p.maxAbsDiff.toExponential(2)} (need ≤ ${opts.maxAbsDiff}) over ${p.samples} test samples; this is an exporter bug for this model, please report it`;
}

async function predictAndDispose(predictor: Predictor, set: LabelledSet, batchSize: number): Promise<Float32Array> {
  try {
    return await predictSet(predictor, set, batchSize);
  } finally {
    predictor.dispose();
  }
}
