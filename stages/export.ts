/**
 * The `export` stage: for each requested format (pipeline/formats/), writes the artifact, runs the format's official
 * checker when it is installed, loads the artifact back from disk with the runtime users will use and checks it
 * against the model as the format expects (float formats: top-1 agreement and max |Δ| on the test split; quantised
 * formats: validation quality within the budget floor). Any format that misses is a failed verdict (exit 1).
 */
import { statSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { LabelledSet } from '../pipeline/data/types.ts';
import { predictSet, tfjsPredictor, type Predictor } from '../pipeline/evaluate.ts';
import { FORMAT_IDS, FORMATS, type CheckResult, type ExportFormat, type ParityExpectation } from '../pipeline/formats/index.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { checkParity, type ParityReport } from '../pipeline/parity.ts';
import type { StageContext, StageDefinition, StageOutput } from '../pipeline/stage.ts';

/** Each format's own options live under its id (e.g. `onnx: { opset: 15 }`). */
const formatOptions = Object.fromEntries(Object.values(FORMATS).map((f) => [f.id, f.options.prefault({}).describe(`${f.id} options`)]));

const options = z.strictObject({
  formats: z.array(z.enum(FORMAT_IDS)).min(1).default(['tfjs', 'onnx']).describe(`formats to write: ${FORMAT_IDS.join(', ')}`),
  minTop1Agreement: z.number().min(0).max(1).default(0.999).describe('float formats: fraction of test samples whose top-1 class must match the model'),
  maxAbsDiff: z.number().nonnegative().default(1e-4).describe('float formats: largest allowed |difference| of any output value against the model'),
  batchSize: z.number().int().positive().default(256).describe('batch size of the parity run'),
  check: z.boolean().default(true).describe("run each format's official checker when it is installed (ONNX: python3's onnx package)"),
  ...formatOptions,
}).refine((o) => new Set(o.formats).size === o.formats.length, { message: 'list each format once', path: ['formats'] });
type ExportOptions = z.output<typeof options> & Record<string, unknown>;

/** What the report keeps per format. */
export interface FormatOutcome {
  artifact: string;
  /** Bytes of every file of the artifact, as written. */
  bytes: number;
  expectation: ParityExpectation['kind'];
  parity: ParityReport;
  /** Quantised formats: the artifact's validation quality, which the budget floor gates. */
  validation?: { accuracy: number; floor: number };
  check?: CheckResult;
  /** Why the format failed, when it did. */
  problem?: string;
}

export const exportStage: StageDefinition<typeof options> = {
  name: 'export',
  description: 'Write each export format (TF.js, ONNX, …) and prove each artifact reproduces the model in its own runtime.',
  options,
  create: (opts) => ({
    name: 'export',
    run: (ir, ctx) => runExport(ir, ctx, opts as ExportOptions),
  }),
  renderDetails(details) {
    const formats = (details as { formats?: Record<string, FormatOutcome> }).formats ?? {};
    const checkText = (c?: CheckResult) => (!c ? '–' : c.status === 'passed' ? 'passed' : `${c.status}: ${c.message}`);
    return [
      'Each artifact loaded back from disk and run on the test split, against the model it was written from:',
      '',
      '| format | bytes | parity | top-1 agreement | max abs diff | test accuracy | official checker |',
      '|---|---|---|---|---|---|---|',
      ...Object.entries(formats).map(([id, f]) =>
        `| ${id} | ${f.bytes.toLocaleString('en-US')} | ${f.expectation}${f.problem ? ' (FAILED)' : ''} | ${(f.parity.top1Agreement * 100).toFixed(2)}% | ${f.parity.maxAbsDiff.toExponential(2)} | ${((f.parity.accuracy ?? 0) * 100).toFixed(2)}% | ${checkText(f.check)} |`),
    ];
  },
};

async function runExport(ir: ModelIR, ctx: StageContext, opts: ExportOptions): Promise<StageOutput> {
  const test = ctx.data.test;
  const reference = await predictAndDispose(await tfjsPredictor(ir), test, opts.batchSize);
  const outcomes: Record<string, FormatOutcome> = {};
  const exports: Record<string, string> = {};
  const problems: string[] = [];
  for (const id of opts.formats) {
    const format = FORMATS[id]!;
    const formatOpts = opts[id];
    const file = path.join(ctx.stageDir, format.artifact);
    const written = await format.write(ir, file, { options: formatOpts, data: ctx.data, seed: ctx.seed, log: (m) => ctx.log(`${id}: ${m}`) });
    exports[id] = format.artifact;
    const outcome = await verify(format, formatOpts, ir, file, reference, ctx, opts);
    outcome.bytes = written.files.reduce((n, f) => n + statSync(f).size, 0);
    outcomes[id] = outcome;
    const p = outcome.parity;
    ctx.log(`${id}: ${outcome.bytes.toLocaleString('en-US')} bytes, top-1 agreement ${(p.top1Agreement * 100).toFixed(2)}%, max |Δ| ${p.maxAbsDiff.toExponential(2)}, ` +
      `test accuracy ${((p.accuracy ?? 0) * 100).toFixed(2)}%${outcome.check ? `, checker ${outcome.check.status}` : ''}${outcome.problem ? ` — FAILED: ${outcome.problem}` : ''}`);
    if (outcome.problem) problems.push(`${id} export (${format.artifact}): ${outcome.problem}`);
  }
  const details = { formats: outcomes, parity: Object.fromEntries(Object.entries(outcomes).map(([id, o]) => [id, o.parity])) };
  // The TF.js export, when written, is the stage's model: its size is what `bytes` reports.
  const output: StageOutput = { ir, modelJson: exports.tfjs, exports, details };
  if (problems.length > 0) output.verdict = { status: 'failed', exitClass: 1, reason: problems.join('; ') };
  return output;
}

async function verify(
  format: ExportFormat, formatOpts: unknown, ir: ModelIR, file: string, reference: Float32Array, ctx: StageContext, opts: ExportOptions,
): Promise<FormatOutcome> {
  const expectation = format.parity(ir, formatOpts);
  const check = opts.check && format.check ? await format.check(file) : undefined;
  const predictor = await format.load(file, formatOpts);
  let parity: ParityReport;
  let validation: FormatOutcome['validation'];
  try {
    const test = ctx.data.test;
    parity = checkParity({ reference, candidate: await predictSet(predictor, test, opts.batchSize), samples: test.count, labels: test.y });
    if (expectation.kind === 'quantized') {
      const floor = ctx.baseline.valAccuracy - ctx.maxAccuracyDrop;
      validation = { accuracy: (await ctx.measure(predictor, 'validation')).accuracy, floor };
    }
  } finally {
    predictor.dispose();
  }
  const outcome: FormatOutcome = { artifact: format.artifact, bytes: 0, expectation: expectation.kind, parity };
  if (validation) outcome.validation = validation;
  if (check) outcome.check = check;
  const problem = check?.status === 'failed' ? `the official checker (${check.checker}) rejects it: ${check.message}` : parityProblem(parity, expectation, validation, opts);
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
