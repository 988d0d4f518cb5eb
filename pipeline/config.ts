/**
 * pipeline.config.ts is code: `export default defineConfig({...})`. defineConfig only types the object;
 * validateConfig (run on every load and after CLI overrides) rejects unknown keys and wrong types with an
 * error naming the key.
 */
import { z } from 'zod';
import { SlimnetError } from './errors.ts';
import { STAGE_NAMES, type StageName } from './stage.ts';
import type { ArraysInput, ValidationArrays } from './data/arrays.ts';
import type { BackendRequest } from './engine.ts';
import { DEFAULT_MEMORY_BUDGET_MB } from './memory.ts';

export interface StageEntry {
  name: StageName;
  /** The stage's own options; each stage documents and validates them (see README, "Stages"). */
  options?: Record<string, unknown>;
  /** What a budget miss does: 'reject' hands the stage's input on unchanged; 'fail' also makes the run exit 1. */
  onBudgetMiss?: 'reject' | 'fail';
  /**
   * This stage's share (0..1) of the pipeline budget. Default: what no stage claims explicitly, split equally over
   * the stages that change accuracy (prune, separable, quantize); 0 for the others (export). See pipeline/budget.ts.
   */
  budgetShare?: number;
}

/**
 * Where the data comes from, and how raw values become the model's input: x = raw · scale + offset. Raw values are
 * 0–255 for 8-bit images (IDX ubyte, the mnist package: default scale 1/255) and the values as given otherwise
 * (IDX float/double, arrays: default scale 1); offset defaults to 0. `validation` names a held-out validation set
 * of its own (the same scaling applies to it); without it, validation is carved from the training data.
 */
export type DataConfig = { scale?: number; offset?: number; validation?: ValidationDataConfig } & (
  | { source: 'idx'; dir: string }
  | { source: 'mnist-package' }
  | { source: 'arrays'; load: () => ArraysInput | Promise<ArraysInput> });

/**
 * A held-out validation set of its own, instead of one carved from the training data: an IDX folder holding one
 * images file and one labels file, or arrays from a function.
 */
export type ValidationDataConfig =
  | { source: 'idx'; dir: string }
  | { source: 'arrays'; load: () => ValidationArrays | Promise<ValidationArrays> };

export interface SlimnetConfig {
  /** Run name; the default output folder is artifacts/<name>. Default: the model's folder name. */
  name?: string;
  /** Path to the input model.json (relative paths resolve against the config file's folder). */
  model: string;
  data: DataConfig;
  /**
   * What the model does: 'classify' (default: quality is top-1 accuracy, or agreement with the input model) or
   * 'regress' (generators, autoencoders, regressors: quality is fidelity to the input model's outputs).
   */
  task?: 'classify' | 'regress';
  /**
   * Where labels come from: 'data' (default when the data has labels) or 'teacher' — the input model's own outputs,
   * so stages are measured by fidelity to it (default for data without labels and for task 'regress').
   */
  labels?: 'data' | 'teacher';
  /** Fraction of the training data held out as the validation split (searches and gates use it), unless data.validation is given. */
  validationFraction?: number;
  /** Seeds which samples are carved off as validation (and which evaluation.limit keeps); independent of `seed`. */
  validationSeed?: number;
  /** Seeds every random choice of the stages: searches, calibration samples, fine-tuning. */
  seed?: number;
  /** maxAccuracyDrop is in the quality metric's units: accuracy or agreement points, or relative MSE for task 'regress'. */
  budget?: { maxAccuracyDrop?: number };
  backend?: BackendRequest;
  /** Output folder. Default artifacts/<name>. */
  out?: string;
  /** Content-addressed stage cache; false turns it off. Default artifacts/.cache. */
  cacheDir?: string | false;
  /**
   * Working memory (MB) slimnet plans for on top of the model and the data: inference and training batches,
   * calibration features, concurrent candidate evaluations are sized to fit it. Lower it on a small machine.
   */
  memoryBudgetMB?: number;
  evaluation?: {
    batchSize?: number;
    /** Single-sample inferences timed for latencyMs. */
    latencySamples?: number;
    /** Inference engine for measurements: 'auto' = onnxruntime-node when the model exports to ONNX, else tfjs. */
    engine?: 'auto' | 'ort' | 'tfjs';
    /** Use only N samples (a seeded random selection) of train/validation/test: for quick runs. */
    limit?: { train?: number; validation?: number; test?: number };
  };
  /** Stages to run, in order. Default: every stage slimnet implements, in pipeline order. */
  stages?: Array<StageName | StageEntry>;
}

export function defineConfig(config: SlimnetConfig): SlimnetConfig {
  return config;
}

const stageName = z.enum(STAGE_NAMES);
const positiveInt = z.number().int().positive();
const loader = z.custom<() => unknown>((v) => typeof v === 'function', 'expected a function returning the arrays');
const validationData = z
  .discriminatedUnion('source', [
    z.strictObject({ source: z.literal('idx'), dir: z.string().min(1) }),
    z.strictObject({ source: z.literal('arrays'), load: loader }),
  ])
  .optional();

/** The carved validation split's seed when the config names none: fixed, so `seed` never re-draws the split. */
export const DEFAULT_VALIDATION_SEED = 42;

const scaling = {
  scale: z.number().finite().refine((v) => v !== 0, 'must not be 0').optional(),
  offset: z.number().finite().optional(),
};

const configSchema = z.strictObject({
  name: z.string().regex(/^[\w.-]+$/, 'use letters, digits, ".", "_" or "-"').optional(),
  model: z.string().min(1),
  data: z.discriminatedUnion('source', [
    z.strictObject({ source: z.literal('idx'), dir: z.string().min(1), ...scaling, validation: validationData }),
    z.strictObject({ source: z.literal('mnist-package'), ...scaling, validation: validationData }),
    z.strictObject({ source: z.literal('arrays'), load: loader, ...scaling, validation: validationData }),
  ]),
  task: z.enum(['classify', 'regress']).default('classify'),
  labels: z.enum(['data', 'teacher']).optional(),
  validationFraction: z.number().gt(0).lt(1).default(0.1),
  validationSeed: z.number().int().nonnegative().default(DEFAULT_VALIDATION_SEED),
  seed: z.number().int().nonnegative().default(42),
  budget: z.strictObject({ maxAccuracyDrop: z.number().min(0).max(1).default(0.01) }).default({ maxAccuracyDrop: 0.01 }),
  backend: z.enum(['auto', 'wasm', 'tfjs-node', 'cpu']).default('auto'),
  out: z.string().min(1).optional(),
  cacheDir: z.union([z.string().min(1), z.literal(false)]).default('artifacts/.cache'),
  memoryBudgetMB: z.number().int().min(64).default(DEFAULT_MEMORY_BUDGET_MB),
  evaluation: z
    .strictObject({
      batchSize: positiveInt.default(256),
      latencySamples: positiveInt.default(50),
      engine: z.enum(['auto', 'ort', 'tfjs']).default('auto'),
      limit: z.strictObject({ train: positiveInt.optional(), validation: positiveInt.optional(), test: positiveInt.optional() }).default({}),
    })
    .default({ batchSize: 256, latencySamples: 50, engine: 'auto', limit: {} }),
  stages: z.array(
    z.union([
      stageName,
      z.strictObject({
        name: stageName,
        options: z.record(z.string(), z.unknown()).default({}),
        onBudgetMiss: z.enum(['reject', 'fail']).default('reject'),
        budgetShare: z.number().min(0).max(1).optional(),
      }),
    ]),
  ).optional(),
});

export type ResolvedConfig = Omit<z.output<typeof configSchema>, 'stages' | 'data'> & {
  data: DataConfig;
  stages: Array<Required<Omit<StageEntry, 'budgetShare'>> & Pick<StageEntry, 'budgetShare'>>;
};

export interface ValidateOptions {
  /** The stages to run when the config lists none (loadConfig: every implemented stage). Without it, `stages` is required. */
  defaultStages?: readonly StageName[];
  /** The CLI flag that set a config key (by key path, e.g. `budget.maxAccuracyDrop` → `--max-accuracy-drop`): errors name the flag. */
  flagOf?(path: ReadonlyArray<PropertyKey>): string | undefined;
}

/** Validates a config object; `source` names where it came from (the file) for error messages. */
export function validateConfig(raw: unknown, source: string, opts: ValidateOptions = {}): ResolvedConfig {
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = formatPath(issue.path);
    const message =
      issue.code === 'unrecognized_keys'
        ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : issue.message;
    const flag = opts.flagOf?.(issue.path);
    if (flag) throw new SlimnetError('CONFIG_INVALID', flag, message, `fix the ${flag} value; see slimnet compress --help`);
    const where = issue.code === 'unrecognized_keys' && issue.path.length === 0 ? source : `${source}: ${key || '(root)'}`;
    throw new SlimnetError('CONFIG_INVALID', where, message, 'fix the value; the README lists every config key');
  }
  const parsed = result.data;
  if (!parsed.stages && !opts.defaultStages) {
    throw new SlimnetError('CONFIG_INVALID', `${source}: stages`, 'missing', 'list the stages to run, e.g. stages: [\'prune\', \'export\']');
  }
  const stages = (parsed.stages ?? opts.defaultStages!).map((s) =>
    typeof s === 'string' ? { name: s, options: {}, onBudgetMiss: 'reject' as const } : s,
  );
  const seen = new Set<string>();
  stages.forEach((s, i) => {
    if (seen.has(s.name)) {
      throw new SlimnetError('CONFIG_INVALID', `${source}: stages[${i}]`, `stage "${s.name}" is listed twice`, 'list each stage once');
    }
    seen.add(s.name);
  });
  return { ...parsed, data: parsed.data as DataConfig, stages };
}

export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  return path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc ? `${acc}.${String(p)}` : String(p)),
    '',
  );
}
