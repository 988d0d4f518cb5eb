/**
 * `slimnet init --model m.json --data dir`: writes a commented pipeline.config.ts for this model and data. It reads
 * both first (so a model slimnet cannot read, or data that does not fit it, is an error now rather than at the
 * first compress), states what it found in comments, and lists every stage with every option at its default —
 * commented out, each with its one-line description from the stage's own schema — so the file documents itself.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { DEFAULT_STAGES, STAGES } from '../../stages/index.ts';
import { DEFAULT_VALIDATION_SEED } from '../config.ts';
import { loadData } from '../data/load-data.ts';
import { SlimnetError, isSlimnetError } from '../errors.ts';
import { countMacs } from '../graph/macs.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { loadModel } from '../io/load-model.ts';
import { countParams } from '../ir.ts';
import { DEFAULT_CONFIG_FILE, defaultRunName } from '../load-config.ts';
import { modelInputShape, modelOutputClasses } from '../runner.ts';
import { describeSignature, modelSignature } from '../signature.ts';
import { num, runCommand, type CliIO } from './shared.ts';

export interface InitArgs {
  model?: string;
  data?: string;
  validationData?: string;
  /** The file to write (default ./pipeline.config.ts). */
  config?: string;
  force: boolean;
  verbose: boolean;
}

export async function init(args: InitArgs, io: CliIO): Promise<number> {
  return runCommand(io, args, async () => {
    if (!args.model) throw new SlimnetError('CONFIG_INVALID', '--model', 'is required', 'name the trained model: --model path/to/model.json');
    if (!args.data) throw new SlimnetError('CONFIG_INVALID', '--data', 'is required', 'name the IDX data folder: --data path/to/idx-folder');
    const file = path.resolve(args.config ?? DEFAULT_CONFIG_FILE);
    if (existsSync(file) && !args.force) {
      throw new SlimnetError('CONFIG_INVALID', path.relative(process.cwd(), file) || file, 'already exists', 'pass --force to replace it, or --config <file> to write another');
    }
    const text = await configText(file, path.resolve(args.model), path.resolve(args.data), args.validationData && path.resolve(args.validationData));
    await writeFileAtomic(file, text);
    const shown = path.relative(process.cwd(), file) || file;
    io.stdout(`wrote ${shown}\nnext: npx slimnet compress${args.config ? ` --config ${shown}` : ''} --dry-run   (what would run, without running)\n` +
      `      npx slimnet compress${args.config ? ` --config ${shown}` : ''}\n`);
    return 0;
  });
}

/** The config's text: facts about the model and data in comments, then every key (defaults commented out). */
export async function configText(file: string, model: string, dataDir: string, validationDir?: string): Promise<string> {
  const source = await loadModel(model);
  const ir = source.ir;
  let classes: number | undefined;
  try {
    classes = modelOutputClasses(ir);
  } catch (e) {
    if (!isSlimnetError(e)) throw e;
  }
  const dataSpec = { source: 'idx' as const, dir: dataDir, ...(validationDir ? { validation: { source: 'idx' as const, dir: validationDir } } : {}) };
  const data = await loadData(dataSpec, { validationFraction: 0.1, seed: DEFAULT_VALIDATION_SEED, inputShape: modelInputShape(ir), outputClasses: classes });
  let macs = 'MACs unknown';
  try {
    macs = `${num(countMacs(ir).total)} MACs per sample`;
  } catch (e) {
    if (!isSlimnetError(e)) throw e;
  }
  const rel = (p: string) => {
    const r = path.relative(path.dirname(file), p).split(path.sep).join('/');
    return r.startsWith('.') ? r : `./${r}`;
  };
  const importable = canImportSlimnet(file);
  const signature = describeSignature(modelSignature(ir, data.describe));
  const validation = validationDir
    ? [
        `    // A separate held-out set (one <name>-images-idx3-ubyte + <name>-labels-idx1-ubyte): ${num(data.validation.count)} samples.`,
        `    validation: { source: 'idx', dir: ${literal(rel(validationDir))} },`,
      ]
    : [`    // validation: { source: 'idx', dir: 'path/to/validation-idx' },  // a separate held-out set; default: carved from train`];
  const lines = [
    `// slimnet pipeline config, written by \`slimnet init\` for ${path.basename(model)}.`,
    `// Check what it would do:  npx slimnet compress --dry-run     Run it:  npx slimnet compress`,
    `// Relative paths resolve against this file's folder. Commented-out keys show their defaults.`,
    importable ? `import { defineConfig } from 'slimnet';` : `// For types and completion here: npm install --save-dev slimnet, then wrap the object in defineConfig from 'slimnet'.`,
    ``,
    `export default ${importable ? 'defineConfig(' : ''}{`,
    `  // ${defaultRunName(model)}: ${ir.layers.length} layers, ${num(countParams(ir))} params, ${macs}.`,
    ...signature.map((l) => `  //   ${l}`),
    `  model: ${literal(rel(model))},`,
    ``,
    `  // IDX folder: ${num(data.train.count + (validationDir ? 0 : data.validation.count))} training and ${num(data.test.count)} test samples of [${data.train.sampleShape.join(', ')}], ${data.train.numClasses} classes.`,
    `  data: {`,
    `    source: 'idx',`,
    `    dir: ${literal(rel(dataDir))},`,
    ...validation,
    `  },`,
    ``,
    `  // Validation: searches and gates measure on it; test accuracy is only reported. Without data.validation, a`,
    `  // stratified share of the training data is carved off, seeded by validationSeed (not by seed).`,
    `  // validationFraction: 0.1,`,
    `  // validationSeed: ${DEFAULT_VALIDATION_SEED},`,
    `  // seed: 42,  // every stage's random choices (searches, fine-tuning)`,
    ``,
    `  // A stage's model is kept only if validation accuracy >= baseline - maxAccuracyDrop (0.01 = 1 point).`,
    `  budget: { maxAccuracyDrop: 0.01 },`,
    ``,
    `  // name: ${literal(defaultRunName(model))},  // run name; default: the model's folder name`,
    `  // out: 'artifacts/<name>',  // output folder (replaced as a whole; only folders slimnet created)`,
    `  // cacheDir: 'artifacts/.cache',  // content-addressed stage cache; false turns it off`,
    `  // evaluation: { batchSize: 256, latencySamples: 50, engine: 'auto', limit: {} },  // limit: { train, validation, test } for quick runs`,
    ``,
    `  // Every stage slimnet implements, in pipeline order. onBudgetMiss: 'reject' hands the stage's input on`,
    `  // (exit 0); 'fail' also makes the run exit 1.`,
    `  stages: [`,
    ...DEFAULT_STAGES.flatMap((name) => stageLines(name)),
    `  ],`,
    `}${importable ? ')' : ''};`,
  ];
  return lines.join('\n') + '\n';
}

function stageLines(name: keyof typeof STAGES): string[] {
  const definition = STAGES[name]!;
  const schema = definition.options as unknown as { shape: Record<string, { description?: string }>; parse(v: unknown): Record<string, unknown> };
  const defaults = schema.parse({});
  const options = Object.entries(schema.shape).map(([key, field]) => {
    const value = defaults[key];
    const shown = value === undefined ? `${key} (not set)` : `${key}: ${literal(value)},`;
    return `        // ${shown}${field.description ? `  // ${field.description}` : ''}`;
  });
  return [
    `    // ${name}: ${definition.description}`,
    `    {`,
    `      name: '${name}',`,
    `      options: {`,
    ...options,
    `      },`,
    `      onBudgetMiss: 'reject',`,
    `    },`,
  ];
}

/** A value as TypeScript source: single-quoted strings, inline arrays and objects. */
function literal(value: unknown): string {
  if (typeof value === 'string') return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
  if (Array.isArray(value)) return `[${value.map(literal).join(', ')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value);
    return entries.length ? `{ ${entries.map(([k, v]) => `${/^[A-Za-z_$][\w$]*$/.test(k) ? k : literal(k)}: ${literal(v)}`).join(', ')} }` : '{}';
  }
  return String(value);
}

/** Whether `import ... from 'slimnet'` resolves from the config's folder (installed there, or this repository itself). */
function canImportSlimnet(file: string): boolean {
  try {
    createRequire(file).resolve('slimnet/package.json');
    return true;
  } catch {
    return false;
  }
}
