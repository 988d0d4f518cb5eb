import { resolve } from 'node:path';
import { SlimnetError } from '../errors.ts';
import { createRng, deriveSeed } from '../random.ts';
import { labelledSetsFromArrays, validationSetFromArrays, type ArraysInput, type ValidationArrays } from './arrays.ts';
import { loadIdxFolder, loadIdxSetFolder } from './idx.ts';
import { loadMnistPackage } from './mnist-package.ts';
import { resolveScaling, scaleInPlace, type Scaling, type ScalingSpec } from './scaling.ts';
import { makeSplits, subset } from './splits.ts';
import type { DataSplits, LabelledSet } from './types.ts';

export type ValidationSpec =
  | { source: 'idx'; dir: string }
  | { source: 'arrays'; load: () => ValidationArrays | Promise<ValidationArrays> };

/** `validation`: a separate held-out set, scaled like the rest; without it validation is carved from train. */
export type DataSpec = ScalingSpec & { validation?: ValidationSpec } & (
  | { source: 'idx'; dir: string }
  | { source: 'mnist-package' }
  | { source: 'arrays'; load: () => ArraysInput | Promise<ArraysInput> });

export interface LoadDataOptions {
  validationFraction: number;
  /** Seeds the data selection: the carved validation split and limit's samples (config `validationSeed`). */
  seed: number;
  /** The model's input shape without the batch dimension; null for a dimension the model leaves open. */
  inputShape: (number | null)[];
  /** Keep a seeded random N samples of train (before validation is carved from it), of a separate validation set, of test. */
  limit?: { train?: number; validation?: number; test?: number };
  /**
   * Values per sample of the model's output (its classes): every label must be below it. A function is given the
   * sample shape fitted to `inputShape` (a model with free input dimensions knows its output only then).
   */
  outputClasses?: number | ((sampleShape: number[]) => number);
}

const fmt = (shape: (number | null)[]) => `[${shape.map((d) => (d === null ? 'null' : d)).join(', ')}]`;

/**
 * The sample shape to use for a model that takes `inputShape`. Data are flat, so reshaping is metadata only:
 * allowed whenever the element counts agree (an open dimension is inferred from the count).
 */
export function shapeForModel(sampleShape: number[], inputShape: (number | null)[], where: string): number[] {
  const elements = sampleShape.reduce((a, b) => a * b, 1);
  const open = inputShape.filter((d) => d === null).length;
  const known = inputShape.reduce<number>((a, d) => a * (d ?? 1), 1);
  const mismatch = () => {
    const modelValues = open === 0 ? `${known} values` : `a multiple of ${known} values`;
    return new SlimnetError('DATA_INVALID', where,
      `model expects input ${fmt(inputShape)} but data samples are ${fmt(sampleShape)} (${modelValues} per sample vs ${elements})`,
      'use data whose samples have as many values as the model input, or a model built for this data');
  };
  if (open === 0) {
    if (known !== elements) throw mismatch();
    return inputShape as number[];
  }
  if (open === 1) {
    if (elements % known !== 0) throw mismatch();
    return inputShape.map((d) => d ?? elements / known);
  }
  // Several open dimensions cannot be inferred from a count; the data's own shape must fit them.
  const fits = sampleShape.length === inputShape.length && inputShape.every((d, i) => d === null || d === sampleShape[i]);
  if (!fits) throw mismatch();
  return [...sampleShape];
}

function checkLimit(value: number | undefined, key: string): number | undefined {
  if (value === undefined) return undefined;
  if (!Number.isInteger(value) || value < 1) throw new SlimnetError('CONFIG_INVALID', key, `must be a positive integer, got ${value}`);
  return value;
}

/** A seeded random selection of n samples, kept in source order. */
function limitTo(set: LabelledSet, n: number | undefined, seed: number): LabelledSet {
  if (n === undefined || n >= set.count) return set;
  const order = createRng(seed).shuffle(Array.from({ length: set.count }, (_, i) => i));
  return subset(set, order.slice(0, n).sort((a, b) => a - b));
}

interface LoadedSource {
  sets: { train: LabelledSet; test: LabelledSet; validation?: LabelledSet; scaling: Scaling };
  where: string;
  /** Where each set's labels came from, for errors about labels. */
  labelsFrom: { train: string; test: string };
  /** False when the source has no labels. */
  labelled: boolean;
  describe: Record<string, unknown>;
}

async function loadSource(spec: DataSpec): Promise<LoadedSource> {
  const scaling = { scale: spec.scale, offset: spec.offset };
  switch (spec.source) {
    case 'idx': {
      const dir = resolve(spec.dir);
      const { labelFiles, raw, ...sets } = await loadIdxFolder(dir, scaling);
      return { sets, where: dir, labelsFrom: labelFiles, labelled: true, describe: { source: 'idx', dir: spec.dir, raw } };
    }
    case 'mnist-package':
      return { sets: loadMnistPackage(scaling), where: 'mnist-package', labelsFrom: { train: 'mnist-package', test: 'mnist-package' }, labelled: true, describe: { source: 'mnist-package', raw: 'uint8' } };
    case 'arrays': {
      let input: unknown;
      try {
        input = await spec.load();
      } catch (e) {
        if (e instanceof SlimnetError) throw e;
        const err = new SlimnetError('DATA_INVALID', 'data.load()', `threw: ${(e as Error)?.message ?? String(e)}`, 'run with --verbose for its stack');
        err.cause = e;
        throw err;
      }
      const { labelled, ...arrays } = labelledSetsFromArrays(input);
      const resolved = resolveScaling(scaling, false);
      for (const set of [arrays.train, arrays.test, arrays.validation]) if (set) scaleInPlace(set.x, resolved);
      return { sets: { ...arrays, scaling: resolved }, where: 'data.load()', labelsFrom: { train: 'data.load(): train.y', test: 'data.load(): test.y' }, labelled, describe: { source: 'arrays', raw: 'float', ...(labelled ? {} : { labels: 'none' }) } };
    }
    default:
      throw new SlimnetError('CONFIG_INVALID', 'data.source', `unknown data source ${JSON.stringify((spec as { source?: unknown }).source)}`,
        "use 'idx', 'mnist-package' or 'arrays'");
  }
}

/** A label the model cannot output would be counted wrong forever (or crash a loss): name the first one. */
function checkLabelRange(set: LabelledSet, classes: number, where: string): void {
  const i = set.y.findIndex((v) => v >= classes);
  if (i < 0) return;
  throw new SlimnetError('DATA_INVALID', where, `label ${set.y[i]} (sample ${i}) is outside the model's ${classes} output classes (0–${classes - 1})`,
    'the labels do not belong to this model: use the data set it was trained for, or a model with as many outputs as classes');
}

interface SeparateValidation {
  set: LabelledSet;
  where: string;
  labelsFrom: string;
  describe: { source: string; dir?: string };
}

/** The separate validation set of `data.validation`, scaled like the training data and stored like it. */
async function loadValidation(spec: ValidationSpec, scaling: ScalingSpec, train: LabelledSet, trainRaw: unknown): Promise<SeparateValidation> {
  if (spec.source === 'idx') {
    const dir = resolve(spec.dir);
    const { set, labelsFile, imagesFile, raw } = await loadIdxSetFolder(dir, scaling);
    if (trainRaw !== undefined && raw !== trainRaw) {
      throw new SlimnetError('DATA_INVALID', imagesFile, `validation images are ${raw} values but the training images are ${trainRaw}`,
        'validation must be stored like the training data, or its values would be scaled differently');
    }
    let numClasses = train.numClasses;
    for (const v of set.y) numClasses = Math.max(numClasses, v + 1);
    return { set: { ...set, numClasses }, where: dir, labelsFrom: labelsFile, describe: { source: 'idx', dir: spec.dir } };
  }
  const where = 'data.validation.load()';
  let input: unknown;
  try {
    input = await spec.load();
  } catch (e) {
    if (e instanceof SlimnetError) throw e;
    const err = new SlimnetError('DATA_INVALID', where, `threw: ${(e as Error)?.message ?? String(e)}`, 'run with --verbose for its stack');
    err.cause = e;
    throw err;
  }
  const set = validationSetFromArrays(input, train.sampleShape, train.numClasses, where);
  scaleInPlace(set.x, resolveScaling(scaling, false));
  return { set, where, labelsFrom: `${where}: y`, describe: { source: 'arrays' } };
}

/** Loads a data source, shapes its samples for the model, applies limits, and splits it into train/validation/test. */
export async function loadData(spec: DataSpec, opts: LoadDataOptions): Promise<DataSplits> {
  const trainLimit = checkLimit(opts.limit?.train, 'evaluation.limit.train');
  const validationLimit = checkLimit(opts.limit?.validation, 'evaluation.limit.validation');
  const testLimit = checkLimit(opts.limit?.test, 'evaluation.limit.test');
  const { sets, where, labelsFrom, labelled, describe } = await loadSource(spec);
  const sampleShape = shapeForModel(sets.train.sampleShape, opts.inputShape, where);
  const separate: SeparateValidation | undefined = spec.validation
    ? await loadValidation(spec.validation, { scale: spec.scale, offset: spec.offset }, sets.train, describe.raw)
    : sets.validation ? { set: sets.validation, where, labelsFrom: 'data.load(): validation.y', describe: { source: 'arrays' } } : undefined;
  if (separate) shapeForModel(separate.set.sampleShape, opts.inputShape, separate.where);
  if (separate && !labelled) {
    throw new SlimnetError('CONFIG_INVALID', 'data.validation', 'a separate validation set needs labelled data; these data have none',
      'leave data.validation out: without labels, validation is carved from train and stages are measured against the input model');
  }
  const outputClasses = typeof opts.outputClasses === 'function' ? opts.outputClasses(sampleShape) : opts.outputClasses;
  if (outputClasses !== undefined && labelled) {
    checkLabelRange(sets.train, outputClasses, labelsFrom.train);
    checkLabelRange(sets.test, outputClasses, labelsFrom.test);
    if (separate) checkLabelRange(separate.set, outputClasses, separate.labelsFrom);
  }
  const shaped = (s: LabelledSet): LabelledSet => ({ ...s, sampleShape: [...sampleShape] });
  const train = limitTo(shaped(sets.train), trainLimit, deriveSeed(opts.seed, 'limit:train'));
  const test = limitTo(shaped(sets.test), testLimit, deriveSeed(opts.seed, 'limit:test'));
  const validation = separate && limitTo(shaped(separate.set), validationLimit, deriveSeed(opts.seed, 'limit:validation'));
  const limit = { train: trainLimit, ...(separate ? { validation: validationLimit } : {}), test: testLimit };
  const splits = makeSplits(train, test, {
    validationFraction: opts.validationFraction,
    seed: opts.seed,
    labelled,
    ...(validation && separate ? { validation: { set: validation, source: { kind: 'separate' as const, ...separate.describe } } } : {}),
    describe: {
      ...describe,
      // x = raw · scale + offset, as applied (defaults resolved).
      scale: sets.scaling.scale,
      offset: sets.scaling.offset,
      sampleShape: sets.train.sampleShape,
      ...(sampleShape.join() !== sets.train.sampleShape.join() ? { shapedAs: sampleShape } : {}),
      ...(Object.values(limit).some((v) => v !== undefined) ? { limit } : {}),
    },
  });
  // Split sizes are reported by the runner next to the fingerprint; describe says where the data came from.
  splits.describe = { ...splits.describe, numClasses: splits.train.numClasses };
  return splits;
}
