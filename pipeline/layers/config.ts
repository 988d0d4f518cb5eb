/**
 * Typed layer configs: a `Field` reads one Keras key into a typed, normalised value (tfjs's default when absent,
 * int-or-tuple as a tuple) and writes it back in the form tfjs saves. Parsing is strict and total: a wrong type, a
 * non-positive size, an unknown padding or activation, a non-finite number is a SlimnetError naming the layer and
 * the key — nothing malformed reaches tfjs or onnxruntime. A valid Keras value slimnet does not handle
 * (channels_first, causal padding on a 2-D conv) is LAYER_UNSUPPORTED instead.
 */
import { SlimnetError } from '../errors.ts';
import { activationName, type ActivationName } from './activations/names.ts';
import type { KerasConfig, KerasValue } from './types.ts';

export interface FieldContext {
  /** `layer "x" (Conv2D)` */
  where: string;
  key: string;
  raw: KerasConfig;
}

export interface Field<T> {
  /** The Keras (snake_case) key. */
  readonly key: string;
  /** `value` is raw[key] (undefined when absent). */
  read(value: KerasValue | undefined, ctx: FieldContext): T;
  write(value: T): KerasValue;
}

export type Fields<C> = { readonly [K in keyof C]-?: Field<C[K]> };

const HINT = 'the model.json topology is damaged or was not written by tfjs; re-save the model';

export function show(value: KerasValue | undefined): string {
  if (typeof value === 'number') return String(value);
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

export function badValue(ctx: FieldContext, expected: string, value: KerasValue | undefined): SlimnetError {
  return new SlimnetError('MODEL_INVALID', ctx.where, `config.${ctx.key} should be ${expected}, got ${show(value)}`, HINT);
}

export function unsupportedValue(ctx: FieldContext, what: string, hint: string): SlimnetError {
  return new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `config.${ctx.key}: slimnet does not support ${what}`, hint);
}

const absent = (v: KerasValue | undefined): v is null | undefined => v === undefined || v === null;
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

/**
 * The largest size, stride, rate or count a layer config may hold: ONNX and TFLite store them as int32 (XNNPACK
 * and TFLite's kernels compute with them as such), so a larger one cannot be exported and breaks the runtimes.
 */
export const MAX_CONFIG_INT = 2 ** 31 - 1;

const intRange = (min: number, max: number) => (max === MAX_CONFIG_INT ? `an integer from ${min} to 2^31−1` : `an integer from ${min} to ${max}`);

export function int(key: string, opts: { min?: number; max?: number; default?: number } = {}): Field<number> {
  const min = opts.min ?? 1;
  const max = opts.max ?? MAX_CONFIG_INT;
  return {
    key,
    read(v, ctx) {
      if (absent(v) && opts.default !== undefined) return opts.default;
      if (!isInt(v) || v < min || v > max) throw badValue(ctx, intRange(min, max), v);
      return v;
    },
    write: (v) => v,
  };
}

export function num(key: string, opts: { default?: number; min?: number; above?: number; max?: number } = {}): Field<number> {
  const expected = [
    'a finite number',
    opts.min !== undefined ? `≥ ${opts.min}` : '',
    opts.above !== undefined ? `> ${opts.above}` : '',
    opts.max !== undefined ? `≤ ${opts.max}` : '',
  ].filter(Boolean).join(' ');
  return {
    key,
    read(v, ctx) {
      if (absent(v) && opts.default !== undefined) return opts.default;
      const ok = typeof v === 'number' && Number.isFinite(v) && !(opts.min !== undefined && v < opts.min)
        && !(opts.above !== undefined && v <= opts.above) && !(opts.max !== undefined && v > opts.max);
      if (!ok) throw badValue(ctx, expected, v);
      return v as number;
    },
    write: (v) => v,
  };
}

export function bool(key: string, fallback: boolean): Field<boolean> {
  return {
    key,
    read(v, ctx) {
      if (absent(v)) return fallback;
      if (typeof v !== 'boolean') throw badValue(ctx, 'true or false', v);
      return v;
    },
    write: (v) => v,
  };
}

/** One of `values`; `unsupported` lists valid Keras values slimnet refuses, each with a hint. */
export function oneOf<T extends string>(key: string, values: readonly T[], fallback: T, unsupported: Record<string, string> = {}): Field<T> {
  return {
    key,
    read(v, ctx) {
      if (absent(v)) return fallback;
      if (typeof v === 'string' && Object.hasOwn(unsupported, v)) throw unsupportedValue(ctx, `${key} "${v}"`, unsupported[v]!);
      if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) throw badValue(ctx, `one of ${values.map((x) => `"${x}"`).join(', ')}`, v);
      return v as T;
    },
    write: (v) => v,
  };
}

/** `data_format`: only channels_last (what tfjs runs and the NHWC contract of every export assumes). */
export function channelsLast(): Field<'channels_last'> {
  return oneOf('data_format', ['channels_last'], 'channels_last', {
    channels_first: 'only channels_last (NHWC) layers are supported; re-save the model with data_format channels_last',
  });
}

/**
 * A Keras int-or-tuple of `n` positive integers: 3 → [3, 3]; [2, 3] → [2, 3]. A list must have exactly `n` items:
 * tfjs (conv_utils.normalizeArray, Pooling2D) breaks on a shorter one.
 */
export function intTuple<N extends 1 | 2>(key: string, n: N, opts: { default?: number[]; min?: number } = {}): Field<N extends 1 ? [number] : [number, number]> {
  type T = N extends 1 ? [number] : [number, number];
  const min = opts.min ?? 1;
  return {
    key,
    read(v, ctx) {
      if (absent(v) && opts.default) return [...opts.default] as T;
      const items = isInt(v) ? [v] : Array.isArray(v) ? v : undefined;
      if (!items || (items.length !== n && !(items.length === 1 && isInt(v))) || !items.every((x) => isInt(x) && x >= min && x <= MAX_CONFIG_INT)) {
        const range = intRange(min, MAX_CONFIG_INT);
        throw badValue(ctx, n === 1 ? `${range} or a list of one` : `${range} or a pair of them`, v);
      }
      return (items.length === n ? [...items] : new Array(n).fill(items[0])) as T;
    },
    write: (v) => [...v],
  };
}

/** A fused or standalone activation, by its Keras name (null: linear, as tfjs reads it). */
export function activation(key = 'activation'): Field<ActivationName> {
  return {
    key,
    read(v, ctx) {
      if (absent(v)) return 'linear';
      const name = typeof v === 'string' ? activationName(v) : undefined;
      if (!name) throw badValue(ctx, 'the name of an activation tfjs knows (relu, sigmoid, softmax, ...)', v);
      return name;
    },
    write: (v) => v,
  };
}

/** One Keras axis (batch counted, negative from the end): n, or [n] where Keras-Python writes a list of one. */
export function singleAxis(fallback: number, key = 'axis'): Field<number> {
  return {
    key,
    read(v, ctx) {
      if (absent(v)) return fallback;
      const a = Array.isArray(v) && v.length === 1 ? v[0] : v;
      if (!isInt(a)) throw badValue(ctx, 'one integer axis (or a list of one)', v);
      return a;
    },
    write: (v) => v,
  };
}

/** A field that may be absent (null/undefined → undefined; written back as null, as tfjs does). */
export function optional<T>(field: Field<T>): Field<T | undefined> {
  return {
    key: field.key,
    read: (v, ctx) => (absent(v) ? undefined : field.read(v, ctx)),
    write: (v) => (v === undefined ? null : field.write(v)),
  };
}

/** A field with its own reader and writer. */
export function custom<T>(key: string, read: (v: KerasValue | undefined, ctx: FieldContext) => T, write: (v: T) => KerasValue): Field<T> {
  return { key, read, write };
}

/** Class names tfjs registers, and the string identifiers it maps to them (initializers.ts, regularizers.ts, constraints.ts). */
const INITIALIZERS = new Set([
  'Zeros', 'Ones', 'Constant', 'RandomUniform', 'RandomNormal', 'TruncatedNormal', 'Identity', 'VarianceScaling',
  'GlorotUniform', 'GlorotNormal', 'HeNormal', 'HeUniform', 'LeCunNormal', 'LeCunUniform', 'Orthogonal',
  'constant', 'glorotNormal', 'glorotUniform', 'heNormal', 'heUniform', 'identity', 'leCunNormal', 'leCunUniform', 'ones',
  'orthogonal', 'randomNormal', 'randomUniform', 'truncatedNormal', 'varianceScaling', 'zeros',
]);
const REGULARIZERS = new Set(['L1L2', 'l1l2']);
const CONSTRAINTS = new Set(['MaxNorm', 'UnitNorm', 'NonNeg', 'MinMaxNorm', 'maxNorm', 'minMaxNorm', 'nonNeg', 'unitNorm']);
const DTYPES = new Set(['float32', 'int32', 'bool', 'complex64', 'string']);

function isPlainObject(v: unknown): v is { readonly [key: string]: KerasValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function finiteNumbers(v: KerasValue): boolean {
  if (typeof v === 'number') return Number.isFinite(v);
  if (Array.isArray(v)) return v.every(finiteNumbers);
  if (isPlainObject(v)) return Object.values(v).every(finiteNumbers);
  return true;
}

/** tfjs-layers' toCamelCase, which it applies to every string value of a config it loads. */
const camel = (s: string) => (s.length <= 1 || !s.includes('_') ? s : s.replace(/[_]+(\w|$)/g, (_m, c: string) => c.toUpperCase()));

/**
 * Keys every layer may carry that tfjs deserialises although inference does not use them: initializers,
 * regularizers and constraints (`{class_name, config}` objects or string identifiers tfjs knows) and `dtype`. tfjs
 * throws on a wrong one while loading the model, so they are checked here too.
 */
export function checkCommonKeys(raw: KerasConfig, where: string): void {
  for (const [key, v] of Object.entries(raw)) {
    const ctx = { where, key, raw };
    const known = /_initializer$/.test(key) ? INITIALIZERS : /_regularizer$/.test(key) ? REGULARIZERS : /_constraint$/.test(key) ? CONSTRAINTS : undefined;
    if (known && !absent(v)) {
      const ok = typeof v === 'string'
        ? known.has(camel(v))
        : isPlainObject(v) && typeof v.class_name === 'string' && known.has(v.class_name) && (absent(v.config) || (isPlainObject(v.config) && finiteNumbers(v.config)));
      if (!ok) throw badValue(ctx, `null or {class_name, config} naming one of tfjs's ${[...known].filter((n) => /^[A-Z]/.test(n)).join(', ')}`, v);
    }
    if (key === 'dtype' && !absent(v) && !(typeof v === 'string' && DTYPES.has(v))) throw badValue(ctx, `a tfjs dtype (${[...DTYPES].join(', ')})`, v);
  }
}

/** Freezes a JSON value and everything in it. */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
