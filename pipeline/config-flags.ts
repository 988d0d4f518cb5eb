/**
 * CLI flags that override the config. Each flag's text is parsed here and written into the raw config under its
 * key; the list of (key → flag) it returns lets validation blame the flag, not the config file, for a bad value
 * (`--max-accuracy-drop abc` → `slimnet: --max-accuracy-drop: "abc" is not a number …`).
 */
import type { SlimnetConfig, StageEntry } from './config.ts';
import { SlimnetError } from './errors.ts';
import { FORMAT_IDS } from './formats/ids.ts';
import { STAGE_NAMES, type StageName } from './stage.ts';

/** CLI flags that override the config; undefined means "not given". Numbers may come as text (the CLI passes text). */
export interface ConfigOverrides {
  model?: string;
  data?: string;
  /** A separate held-out validation set (IDX folder with one images/labels pair). */
  validationData?: string;
  /** x = raw · dataScale + dataOffset; overrides data.scale / data.offset. */
  dataScale?: number | string;
  dataOffset?: number | string;
  out?: string;
  stages?: string;
  maxAccuracyDrop?: number | string;
  backend?: string;
  seed?: number | string;
  /** `N` (train, validation and test each) or `train=N,validation=N,test=N`. */
  limit?: number | string;
  /** Export formats, comma-separated: sets the export stage's `formats`. */
  formats?: string;
  /** false (`--no-cache`): neither read nor write the stage cache (sets cacheDir false). */
  cache?: boolean;
  /** --cache-dir: the stage cache folder, relative to the current folder (resolved by cache/location.ts). */
  cacheDir?: string;
}

export interface FlagKey {
  key: readonly PropertyKey[];
  flag: string;
}

/** The flag that set `path` (or the closest key above it), if any: `--data-scale` for data.scale even when --data set data. */
export function flagForKey(flags: readonly FlagKey[], path: ReadonlyArray<PropertyKey>): string | undefined {
  const matching = flags.filter((f) => f.key.every((k, i) => path[i] === k));
  return matching.sort((a, b) => b.key.length - a.key.length)[0]?.flag;
}

/** `defaultStages`: the implemented stages, in order (what runs when nothing lists stages). */
export function applyFlags(
  raw: Partial<SlimnetConfig>, o: ConfigOverrides, defaultStages: readonly StageName[],
): { merged: Record<string, unknown>; flags: FlagKey[] } {
  const merged: Record<string, unknown> = { ...raw };
  const flags: FlagKey[] = [];
  const set = (key: string[], flag: string, value: unknown) => {
    let target = merged;
    for (const k of key.slice(0, -1)) target = target[k] = { ...((target[k] as Record<string, unknown> | undefined) ?? {}) };
    target[key.at(-1)!] = value;
    flags.push({ key, flag });
  };
  if (o.model !== undefined) set(['model'], '--model', o.model);
  if (o.data !== undefined) {
    const validation = raw.data?.validation;
    set(['data'], '--data', { source: 'idx', dir: o.data, ...(validation ? { validation } : {}) });
    // --data answers for the source and its folder; a configured data.validation keeps its own blame.
    flags.splice(-1, 1, { key: ['data', 'source'], flag: '--data' }, { key: ['data', 'dir'], flag: '--data' });
  }
  if (o.dataScale !== undefined || o.dataOffset !== undefined) {
    if (merged.data === undefined) throw new SlimnetError('CONFIG_INVALID', o.dataScale !== undefined ? '--data-scale' : '--data-offset', 'there is no data to scale', 'give --data or a config with data');
    if (o.dataScale !== undefined) set(['data', 'scale'], '--data-scale', parseNumber(o.dataScale, '--data-scale', 'a number such as 0.00392156862745098 (1/255)'));
    if (o.dataOffset !== undefined) set(['data', 'offset'], '--data-offset', parseNumber(o.dataOffset, '--data-offset', 'a number such as -0.5'));
  }
  if (o.validationData !== undefined) {
    if (merged.data === undefined) throw new SlimnetError('CONFIG_INVALID', '--validation-data', 'there is no training data to validate against', 'give --data or a config with data');
    set(['data', 'validation'], '--validation-data', { source: 'idx', dir: o.validationData });
  }
  if (o.out !== undefined) set(['out'], '--out', o.out);
  if (o.cache === false) set(['cacheDir'], '--no-cache', false);
  if (o.backend !== undefined) set(['backend'], '--backend', o.backend);
  if (o.seed !== undefined) set(['seed'], '--seed', parseNumber(o.seed, '--seed', 'a non-negative integer such as 42'));
  if (o.maxAccuracyDrop !== undefined) {
    set(['budget', 'maxAccuracyDrop'], '--max-accuracy-drop',
      parseNumber(o.maxAccuracyDrop, '--max-accuracy-drop', 'a fraction such as 0.01, or a percentage such as 1%', true));
  }
  if (o.limit !== undefined) set(['evaluation', 'limit'], '--limit', parseLimit(o.limit));
  if (o.stages !== undefined) set(['stages'], '--stages', selectStages(raw.stages ?? [], o.stages, defaultStages));
  if (o.formats !== undefined) {
    const stages = (merged.stages as SlimnetConfig['stages']) ?? defaultStages;
    set(['stages'], '--formats', withFormats(stages, parseFormats(o.formats)));
  }
  return { merged, flags };
}

/** A number from a flag's text; `percent`: "1%" means 0.01. The range is the config schema's to check. */
function parseNumber(value: number | string, flag: string, expected: string, percent = false): number {
  if (typeof value === 'number' && !Number.isNaN(value)) return value;
  const text = String(value).trim();
  const isPercent = percent && text.endsWith('%');
  const n = Number(isPercent ? text.slice(0, -1) : text);
  if (text === '' || text === '%' || !Number.isFinite(n)) {
    throw new SlimnetError('CONFIG_INVALID', flag, `${JSON.stringify(String(value))} is not a number`, `give ${expected}`);
  }
  return isPercent ? n / 100 : n;
}

const LIMIT_SPLITS = ['train', 'validation', 'test'] as const;

function parseLimit(value: number | string): Record<string, number> {
  const text = String(value).trim();
  const hint = 'give N (each split) or train=N,validation=N,test=N';
  if (/^[^=]+$/.test(text)) {
    const n = parseNumber(text, '--limit', hint);
    return Object.fromEntries(LIMIT_SPLITS.map((s) => [s, n]));
  }
  const limit: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [split, n, ...rest] = part.split('=').map((p) => p.trim());
    if (!(LIMIT_SPLITS as readonly string[]).includes(split!) || n === undefined || rest.length) {
      throw new SlimnetError('CONFIG_INVALID', '--limit', `cannot read ${JSON.stringify(part)}`, hint);
    }
    limit[split!] = parseNumber(n, '--limit', hint);
  }
  return limit;
}

function parseFormats(value: string): string[] {
  const ids = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (ids.length === 0) throw new SlimnetError('CONFIG_INVALID', '--formats', 'names no format', `formats are ${FORMAT_IDS.join(', ')}`);
  for (const id of ids) {
    if (!(FORMAT_IDS as readonly string[]).includes(id)) {
      throw new SlimnetError('CONFIG_INVALID', '--formats', `unknown format "${id}"`, `formats are ${FORMAT_IDS.join(', ')}`);
    }
  }
  return ids;
}

/** The stage list with the export stage's `formats` set (its other configured options kept). */
function withFormats(stages: NonNullable<SlimnetConfig['stages']> | readonly StageName[], formats: string[]): NonNullable<SlimnetConfig['stages']> {
  const entries = [...stages];
  const i = entries.findIndex((s) => (typeof s === 'string' ? s : s.name) === 'export');
  if (i < 0) {
    throw new SlimnetError('CONFIG_INVALID', '--formats', 'the export stage is not in this run', 'add export to the stages (--stages …,export)');
  }
  const entry = entries[i]!;
  const base: StageEntry = typeof entry === 'string' ? { name: entry } : entry;
  entries[i] = { ...base, options: { ...(base.options ?? {}), formats } };
  return entries;
}

/** --stages picks and orders stages; one not in the config runs with its defaults. */
function selectStages(configured: NonNullable<SlimnetConfig['stages']>, list: string, implemented: readonly StageName[]): NonNullable<SlimnetConfig['stages']> {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new SlimnetError('STAGE_UNKNOWN', '--stages', 'names no stage', `stages are ${implemented.join(', ')}`);
  return names.map((name) => {
    if (!(STAGE_NAMES as readonly string[]).includes(name)) {
      throw new SlimnetError('STAGE_UNKNOWN', '--stages', `unknown stage "${name}"`, `stages are ${implemented.join(', ')}`);
    }
    if (!implemented.includes(name as StageName)) {
      throw new SlimnetError('STAGE_UNKNOWN', '--stages', `stage "${name}" is not implemented yet`, `available: ${implemented.join(', ')}`);
    }
    const entry = configured.find((s) => (typeof s === 'string' ? s : s.name) === name);
    return entry ?? (name as StageName);
  });
}
