import { SlimnetError } from '../errors.ts';
import type { LabelledSet } from './types.ts';

/**
 * Samples and their labels: x flat and sample-major (NHWC for images), y class indices. `y` may be left out of every
 * set — images without labels: stages are then measured by fidelity to the input model (the teacher).
 */
export interface ArraysSet {
  x: Float32Array | number[];
  y?: Int32Array | number[];
}

/** What `data.validation.load()` returns: a held-out set shaped like the training samples. */
export type ValidationArrays = ArraysSet;

/** What a config's `data.load()` returns: flat sample-major arrays (NHWC for images). */
export interface ArraysInput {
  train: ArraysSet;
  test: ArraysSet;
  /** A held-out validation set; without it (and without data.validation) validation is carved from train. */
  validation?: ArraysSet;
  /** Shape of one sample, e.g. [28, 28, 1]. */
  sampleShape: number[];
  /** Defaults to the largest label + 1 across train and test. */
  numClasses?: number;
}

const WHERE = 'data.load()';

function invalid(message: string, hint?: string): SlimnetError {
  return new SlimnetError('DATA_INVALID', WHERE, message, hint);
}

function isNumericArray(a: unknown): a is ArrayLike<number> {
  return Array.isArray(a) || (ArrayBuffer.isView(a) && !(a instanceof DataView));
}

function checkSampleShape(shape: unknown): number[] {
  if (!Array.isArray(shape) || shape.length === 0 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw invalid(`sampleShape must be a non-empty list of positive integers, got ${JSON.stringify(shape)}`);
  }
  return [...shape];
}

function toLabels(name: string, y: unknown): Int32Array {
  if (!isNumericArray(y)) throw invalid(`${name}.y must be an Int32Array or number[], got ${describeValue(y)}`);
  const out = new Int32Array(y.length);
  for (let i = 0; i < y.length; i++) {
    const v = y[i] as number;
    if (!Number.isInteger(v) || v < 0 || v > 2 ** 31 - 1) {
      throw invalid(`${name}.y[${i}] is ${v}; labels must be non-negative integers (class indices)`);
    }
    out[i] = v;
  }
  return out;
}

function toSamples(name: string, x: unknown, count: number | undefined, perSample: number): Float32Array {
  if (!isNumericArray(x)) throw invalid(`${name}.x must be a Float32Array or number[], got ${describeValue(x)}`);
  if (count === undefined) {
    if (x.length % perSample !== 0) throw invalid(`${name}.x has ${x.length} values, not a whole number of samples of ${perSample} values`, 'x is flat and sample-major: count * prod(sampleShape) values');
  } else if (x.length !== count * perSample) {
    throw invalid(`${name}.x has ${x.length} values but ${name}.y has ${count} labels and each sample has ${perSample} values ` +
      `(expected ${count * perSample})`, 'x is flat and sample-major: count * prod(sampleShape) values');
  }
  const out = x instanceof Float32Array ? new Float32Array(x) : Float32Array.from(x);
  for (let i = 0; i < out.length; i++) {
    if (!Number.isFinite(out[i])) throw invalid(`${name}.x[${i}] is ${x[i]}; sample values must be finite numbers`);
  }
  return out;
}

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  return Array.isArray(v) ? 'an array' : typeof v === 'object' ? (v.constructor?.name ?? 'an object') : typeof v;
}

/** One `{ x, y }` (or `{ x }`) part of what a load() returned, checked and copied; y undefined without labels. */
function checkedSet(part: unknown, name: string, perSample: number, where = WHERE): { x: Float32Array; y?: Int32Array } {
  if (typeof part !== 'object' || part === null) throw invalid(`${name} is missing; expected { x, y } (or { x } for data without labels)`);
  const given = part as Partial<ArraysSet>;
  try {
    const y = given.y === undefined ? undefined : toLabels(name, given.y);
    const x = toSamples(name, given.x, y?.length, perSample);
    if (x.length === 0) throw invalid(`${name} has no samples`);
    return y ? { x, y } : { x };
  } catch (e) {
    if (where === WHERE || !(e instanceof SlimnetError)) throw e;
    throw new SlimnetError(e.code, where, e.message, e.hint);
  }
}

/** A validation set from `data.validation.load()`, whose samples have `sampleShape` (the training data's). */
export function validationSetFromArrays(input: unknown, sampleShape: number[], numClasses: number, where: string): LabelledSet {
  const perSample = sampleShape.reduce((a, b) => a * b, 1);
  const { x, y } = checkedSet(input, 'validation', perSample, where);
  if (!y) throw new SlimnetError('DATA_INVALID', where, 'validation.y is missing', 'a separate validation set needs labels; without labels, leave data.validation out (validation is then carved from train)');
  let classes = numClasses;
  for (const v of y) classes = Math.max(classes, v + 1);
  return { x, y, count: y.length, sampleShape: [...sampleShape], numClasses: classes };
}

/**
 * Checks what a config's load() returned and turns it into sets (copies, so the caller's arrays stay theirs). Without
 * labels (no `y` in any set) every y is 0 and `labelled` is false.
 */
export function labelledSetsFromArrays(input: unknown): { train: LabelledSet; test: LabelledSet; validation?: LabelledSet; labelled: boolean } {
  if (typeof input !== 'object' || input === null) throw invalid(`must return { train, test, sampleShape }, got ${describeValue(input)}`);
  const given = input as Partial<ArraysInput>;
  const sampleShape = checkSampleShape(given.sampleShape);
  const perSample = sampleShape.reduce((a, b) => a * b, 1);
  const names = given.validation === undefined ? (['train', 'test'] as const) : (['train', 'test', 'validation'] as const);
  const checked = names.map((name) => checkedSet(given[name], name, perSample));
  const labelled = checked[0]!.y !== undefined;
  const odd = checked.findIndex((c) => (c.y !== undefined) !== labelled);
  if (odd >= 0) {
    throw invalid(`${names[labelled ? odd : 0]}.y is missing but ${names[labelled ? 0 : odd]}.y is given`, 'give labels for every set, or for none (then stages are measured against the input model)');
  }
  const sets = checked.map((c) => ({ x: c.x, y: c.y ?? new Int32Array(c.x.length / perSample) }));
  const [train, test, validation] = sets as [{ x: Float32Array; y: Int32Array }, { x: Float32Array; y: Int32Array }, { x: Float32Array; y: Int32Array }?];
  let maxLabel = 0;
  for (const { y } of sets) for (const v of y) maxLabel = Math.max(maxLabel, v);
  let numClasses = maxLabel + 1;
  if (given.numClasses !== undefined) {
    if (!Number.isInteger(given.numClasses) || given.numClasses < 1) throw invalid(`numClasses must be a positive integer, got ${given.numClasses}`);
    if (given.numClasses <= maxLabel) throw invalid(`numClasses is ${given.numClasses} but a label is ${maxLabel}`);
    numClasses = given.numClasses;
  }
  const make = (s: { x: Float32Array; y: Int32Array }): LabelledSet => ({ ...s, count: s.y.length, sampleShape: [...sampleShape], numClasses });
  return { train: make(train), test: make(test), ...(validation ? { validation: make(validation) } : {}), labelled };
}
