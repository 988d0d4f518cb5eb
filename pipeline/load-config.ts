/**
 * Finds and imports pipeline.config.ts (through tsx, which the CLI runs under), applies CLI overrides, validates,
 * and resolves relative paths against the config file's folder.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { validateConfig, type ResolvedConfig, type SlimnetConfig } from './config.ts';
import { SlimnetError } from './errors.ts';
import { STAGE_NAMES, type StageName } from './stage.ts';
import { resolveCacheDir } from './cache/location.ts';
import { checkTargetNames, mergeTarget, selectTargets, type Shard } from './targets.ts';

export const DEFAULT_CONFIG_FILE = 'pipeline.config.ts';

/** CLI flags that override the config; undefined means "not given". */
export interface ConfigOverrides {
  model?: string;
  data?: string;
  out?: string;
  stages?: string;
  maxAccuracyDrop?: number;
  /** x = raw · dataScale + dataOffset; overrides data.scale / data.offset. */
  dataScale?: number;
  dataOffset?: number;
  backend?: string;
  seed?: number;
  /** --cache-dir */
  cacheDir?: string;
  /** --no-cache (yargs: --cache false) */
  cache?: boolean;
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** The config file's default export as written (before overrides and validation). */
  raw: Partial<SlimnetConfig>;
  /** The config file used, or undefined when everything came from flags. */
  file?: string;
}

export async function loadConfig(
  configPath: string | undefined,
  overrides: ConfigOverrides,
  cwd = process.cwd(),
): Promise<LoadedConfig> {
  const file = findConfigFile(configPath, cwd);
  let raw: Partial<SlimnetConfig> = {};
  if (file) raw = await importConfig(file);
  else if (!overrides.model || !overrides.data) {
    throw new SlimnetError(
      'CONFIG_NOT_FOUND',
      path.join(cwd, DEFAULT_CONFIG_FILE),
      'no config file, and --model/--data were not both given',
      `create ${DEFAULT_CONFIG_FILE} or pass --model <model.json> --data <idx folder>`,
    );
  }
  const baseDir = file ? path.dirname(file) : cwd;
  const merged = applyOverrides(raw, overrides, file);
  const config = validateConfig(merged, sourceName(file, cwd));
  return { config: resolvePaths(config, baseDir, cwd, overrides), file, raw };
}

function sourceName(file: string | undefined, cwd: string): string {
  return file ? path.relative(cwd, file) || file : 'command line';
}

export interface TargetRun {
  /** The target's name; undefined for a config without targets. */
  target?: string;
  config: ResolvedConfig;
}

export interface LoadedTargets {
  file?: string;
  /** Every target the config defines (empty without targets). */
  all: string[];
  /** What this invocation runs, in name order: the targets picked by --target/--shard, or the one untargeted run. */
  runs: TargetRun[];
}

/**
 * The runs of one `compress`: a config without targets is one run (shard 1 of n takes it, the others nothing); with
 * targets, one run per selected target, each with its shared keys, its overrides, then the flags on top.
 */
export async function loadTargets(
  configPath: string | undefined, overrides: ConfigOverrides, select: { target?: string; shard?: Shard }, cwd = process.cwd(),
): Promise<LoadedTargets> {
  const base = await loadConfig(configPath, overrides, cwd);
  const source = sourceName(base.file, cwd);
  const raw = base.raw;
  const all = checkTargetNames(raw.targets, source);
  const names = selectTargets(all, { ...select, source });
  if (all.length === 0) {
    return { file: base.file, all, runs: names.length || !select.shard || select.shard.index === 1 ? [{ config: base.config }] : [] };
  }
  const baseDir = base.file ? path.dirname(base.file) : cwd;
  const runs = names.map((name) => {
    const targetRaw = (raw.targets as Record<string, unknown>)[name] as { out?: unknown } | undefined;
    const merged = mergeTarget(raw as Record<string, unknown>, name, targetRaw, source);
    // A target's folder: <--out>/<target> with the flag, its own `out`, else <the shared out>/<target>.
    const out = overrides.out !== undefined ? path.join(path.resolve(cwd, overrides.out), name)
      : typeof targetRaw?.out === 'string' ? path.resolve(baseDir, targetRaw.out) : path.join(base.config.out!, name);
    const config = validateConfig(applyOverrides(merged as Partial<SlimnetConfig>, { ...overrides, out: undefined }, base.file), `${source}: targets.${name}`);
    return { target: name, config: { ...resolvePaths(config, baseDir, cwd, { ...overrides, out: undefined }), out, target: name } };
  });
  return { file: base.file, all, runs };
}

function findConfigFile(configPath: string | undefined, cwd: string): string | undefined {
  if (configPath) {
    const abs = path.resolve(cwd, configPath);
    if (!existsSync(abs)) {
      throw new SlimnetError('CONFIG_NOT_FOUND', configPath, 'config file not found', 'check the --config path');
    }
    return abs;
  }
  const fallback = path.join(cwd, DEFAULT_CONFIG_FILE);
  return existsSync(fallback) ? fallback : undefined;
}

async function importConfig(file: string): Promise<Partial<SlimnetConfig>> {
  let mod: { default?: unknown };
  try {
    // tsImport compiles the config whatever the user's package.json says about module type.
    mod = await tsImport(pathToFileURL(file).href, import.meta.url);
  } catch (e) {
    const reason = e instanceof Error ? e.message.split('\n')[0] : String(e);
    throw new SlimnetError('CONFIG_INVALID', file, `cannot load config: ${reason}`, 'fix the TypeScript error in the config');
  }
  // A config compiled as CommonJS (no "type": "module" nearby) arrives wrapped once more by the interop.
  let exported = mod.default as Record<string, unknown> | undefined;
  if (exported && typeof exported === 'object' && exported.__esModule) exported = exported.default as Record<string, unknown> | undefined;
  if (!exported || typeof exported !== 'object') {
    throw new SlimnetError('CONFIG_INVALID', file, 'has no default export', 'end it with `export default defineConfig({...})`');
  }
  return exported as Partial<SlimnetConfig>;
}

function applyOverrides(raw: Partial<SlimnetConfig>, o: ConfigOverrides, file: string | undefined): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...raw };
  if (o.model !== undefined) merged.model = o.model;
  if (o.data !== undefined) merged.data = { source: 'idx', dir: o.data };
  if (o.dataScale !== undefined || o.dataOffset !== undefined) {
    const data = { ...((merged.data as Record<string, unknown> | undefined) ?? {}) };
    if (o.dataScale !== undefined) data.scale = o.dataScale;
    if (o.dataOffset !== undefined) data.offset = o.dataOffset;
    merged.data = data;
  }
  if (o.out !== undefined) merged.out = o.out;
  if (o.backend !== undefined) merged.backend = o.backend;
  if (o.seed !== undefined) merged.seed = o.seed;
  if (o.maxAccuracyDrop !== undefined) merged.budget = { ...(raw.budget ?? {}), maxAccuracyDrop: o.maxAccuracyDrop };
  const configured = raw.stages ?? [];
  if (o.stages !== undefined) merged.stages = selectStages(configured, o.stages);
  else if (!file) merged.stages = ['export'];
  return merged;
}

/** --stages picks and orders stages; one not in the config runs with its defaults. */
function selectStages(configured: SlimnetConfig['stages'], list: string): SlimnetConfig['stages'] {
  const names = list.split(',').map((s) => s.trim()).filter(Boolean);
  return names.map((name) => {
    if (!(STAGE_NAMES as readonly string[]).includes(name)) {
      throw new SlimnetError('STAGE_UNKNOWN', '--stages', `unknown stage "${name}"`, `stages are ${STAGE_NAMES.join(', ')}`);
    }
    const entry = configured.find((s) => (typeof s === 'string' ? s : s.name) === name);
    return entry ?? (name as StageName);
  });
}

function resolvePaths(config: ResolvedConfig, baseDir: string, cwd: string, o: ConfigOverrides): ResolvedConfig {
  // Flags are relative to where the user typed them; config values to the config file.
  const fromFlagOrConfig = (value: string, flag: string | undefined) => path.resolve(flag !== undefined ? cwd : baseDir, value);
  const model = fromFlagOrConfig(config.model, o.model);
  const data = config.data.source === 'idx' ? { ...config.data, dir: fromFlagOrConfig(config.data.dir, o.data) } : config.data;
  const name = config.name ?? defaultRunName(model);
  const out = config.out !== undefined ? fromFlagOrConfig(config.out, o.out) : path.resolve(baseDir, 'artifacts', name);
  const cacheDir = resolveCacheDir({ noCache: o.cache === false, flag: o.cacheDir, config: config.cacheDir }, baseDir, cwd);
  return { ...config, name, model, data, out, cacheDir };
}

/** The run name when the config gives none: a model.json's folder name, or a Keras file's or folder's own name. */
export function defaultRunName(modelPath: string): string {
  const ext = path.extname(modelPath).toLowerCase();
  const base = ['.keras', '.h5', '.hdf5'].includes(ext) ? path.basename(modelPath, path.extname(modelPath))
    : ext === '' ? path.basename(modelPath)
      : path.basename(path.dirname(modelPath));
  return base.replace(/[^\w.-]/g, '_') || 'run';
}
