/**
 * Finds and imports pipeline.config.ts (through tsx, which the CLI runs under), applies CLI overrides, validates,
 * and resolves relative paths against the config file's folder. It also records where the settings a user cares
 * about most came from (a flag, the config file, a default), which the CLI prints before the run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { DEFAULT_STAGES } from '../stages/default-stages.ts';
import { validateConfig, type ResolvedConfig, type SlimnetConfig } from './config.ts';
import { SlimnetError } from './errors.ts';
import { resolveCacheDir } from './cache/location.ts';
import { applyFlags, flagForKey, type ConfigOverrides } from './config-flags.ts';
import { checkTargetNames, mergeTarget, selectTargets, type Shard } from './targets.ts';

export type { ConfigOverrides } from './config-flags.ts';

export const DEFAULT_CONFIG_FILE = 'pipeline.config.ts';
/** `--config none`: run from flags and defaults even when the current folder has a pipeline.config.ts. */
export const NO_CONFIG = 'none';

/** Where a setting came from: a flag, the config file, or slimnet's default (with what the default is). */
export interface Origin {
  from: 'flag' | 'config' | 'default';
  /** The flag (`--stages`), the config file's path, or what the default means. */
  detail: string;
}

export interface ConfigOrigins {
  /** Which config file was used (`file`), or why none. */
  config: Origin & { file?: string };
  stages: Origin;
  budget: Origin;
  out: Origin;
  validation: Origin;
}

export interface LoadedConfig {
  config: ResolvedConfig;
  /** The config file's default export as written (before overrides and validation). */
  raw: Partial<SlimnetConfig>;
  /** The config file used, or undefined when everything came from flags. */
  file?: string;
  origins: ConfigOrigins;
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
    const none = configPath === NO_CONFIG;
    throw new SlimnetError(
      'CONFIG_NOT_FOUND',
      none ? '--config none' : path.join(cwd, DEFAULT_CONFIG_FILE),
      none ? 'no config file is used, and --model/--data were not both given' : 'no config file, and --model/--data were not both given',
      `pass --model <model.json> --data <idx folder>${none ? '' : `, or create ${DEFAULT_CONFIG_FILE} (slimnet init writes one)`}`,
    );
  }
  const baseDir = file ? path.dirname(file) : cwd;
  const source = sourceName(file, cwd);
  const { merged, flags } = applyFlags(raw, overrides, DEFAULT_STAGES);
  const config = validateConfig(merged, source, { defaultStages: DEFAULT_STAGES, flagOf: (key) => flagForKey(flags, key) });
  const resolved = resolvePaths(config, baseDir, cwd, overrides);
  return { config: resolved, raw, file, origins: originsOf(raw, overrides, configPath, file, source, cwd) };
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
  /** Where the shared settings came from (a target's overrides are its own). */
  origins: ConfigOrigins;
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
    return { file: base.file, origins: base.origins, all, runs: names.length || !select.shard || select.shard.index === 1 ? [{ config: base.config }] : [] };
  }
  const baseDir = base.file ? path.dirname(base.file) : cwd;
  const runs = names.map((name) => {
    const targetRaw = (raw.targets as Record<string, unknown>)[name] as { out?: unknown } | undefined;
    const merged = mergeTarget(raw as Record<string, unknown>, name, targetRaw, source);
    // A target's folder: <--out>/<target> with the flag, its own `out`, else <the shared out>/<target>.
    const out = overrides.out !== undefined ? path.join(path.resolve(cwd, overrides.out), name)
      : typeof targetRaw?.out === 'string' ? path.resolve(baseDir, targetRaw.out) : path.join(base.config.out!, name);
    const flagged = applyFlags(merged as Partial<SlimnetConfig>, { ...overrides, out: undefined }, DEFAULT_STAGES);
    const config = validateConfig(flagged.merged, `${source}: targets.${name}`, { defaultStages: DEFAULT_STAGES, flagOf: (key) => flagForKey(flagged.flags, key) });
    return { target: name, config: { ...resolvePaths(config, baseDir, cwd, { ...overrides, out: undefined }), out, target: name } };
  });
  return { file: base.file, origins: base.origins, all, runs };
}

function findConfigFile(configPath: string | undefined, cwd: string): string | undefined {
  if (configPath === NO_CONFIG) return undefined;
  if (configPath) {
    const abs = path.resolve(cwd, configPath);
    if (!existsSync(abs)) {
      throw new SlimnetError('CONFIG_NOT_FOUND', configPath, 'config file not found', `check the --config path (--config ${NO_CONFIG} runs without one)`);
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

function originsOf(raw: Partial<SlimnetConfig>, o: ConfigOverrides, configPath: string | undefined, file: string | undefined, source: string, cwd: string): ConfigOrigins {
  const pick = (flag: string | undefined, inConfig: boolean, fallback: string): Origin =>
    flag ? { from: 'flag', detail: flag } : inConfig ? { from: 'config', detail: source } : { from: 'default', detail: fallback };
  const config: Origin = file
    ? configPath ? { from: 'flag', detail: '--config' } : { from: 'default', detail: `found in the current folder` }
    : configPath === NO_CONFIG
      ? { from: 'flag', detail: `--config ${NO_CONFIG}` }
      : { from: 'default', detail: `no ${DEFAULT_CONFIG_FILE} in the current folder` };
  const separate = o.validationData !== undefined || raw.data?.validation !== undefined;
  return {
    config: { ...config, file: file ? path.relative(cwd, file) || file : undefined },
    stages: pick(o.stages !== undefined ? '--stages' : undefined, raw.stages !== undefined, 'every implemented stage'),
    budget: pick(o.maxAccuracyDrop !== undefined ? '--max-accuracy-drop' : undefined, raw.budget?.maxAccuracyDrop !== undefined, ''),
    out: pick(o.out !== undefined ? '--out' : undefined, raw.out !== undefined, raw.name !== undefined ? 'artifacts/<name>' : 'artifacts/<model folder>'),
    validation: pick(o.validationData !== undefined ? '--validation-data' : undefined,
      separate || raw.validationFraction !== undefined || raw.validationSeed !== undefined, ''),
  };
}

function resolvePaths(config: ResolvedConfig, baseDir: string, cwd: string, o: ConfigOverrides): ResolvedConfig {
  // Flags are relative to where the user typed them; config values to the config file.
  const fromFlagOrConfig = (value: string, flag: string | undefined) => path.resolve(flag !== undefined ? cwd : baseDir, value);
  const model = fromFlagOrConfig(config.model, o.model);
  const validation = config.data.validation?.source === 'idx'
    ? { ...config.data.validation, dir: fromFlagOrConfig(config.data.validation.dir, o.validationData) }
    : config.data.validation;
  const base = config.data.source === 'idx' ? { ...config.data, dir: fromFlagOrConfig(config.data.dir, o.data) } : config.data;
  const data = validation ? { ...base, validation } : base;
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
