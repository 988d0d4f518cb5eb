/**
 * Finds and imports pipeline.config.ts (through tsx, which the CLI runs under), applies CLI overrides, validates,
 * and resolves relative paths against the config file's folder. It also records where the settings a user cares
 * about most came from (a flag, the config file, a default), which the CLI prints before the run.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';
import { DEFAULT_STAGES } from '../stages/index.ts';
import { validateConfig, type ResolvedConfig, type SlimnetConfig } from './config.ts';
import { SlimnetError } from './errors.ts';
import { applyFlags, flagForKey, type ConfigOverrides } from './config-flags.ts';

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
  const source = file ? path.relative(cwd, file) || file : 'command line';
  const { merged, flags } = applyFlags(raw, overrides, DEFAULT_STAGES);
  const config = validateConfig(merged, source, { defaultStages: DEFAULT_STAGES, flagOf: (key) => flagForKey(flags, key) });
  const resolved = resolvePaths(config, baseDir, cwd, overrides);
  return { config: resolved, file, origins: originsOf(raw, overrides, configPath, file, source, cwd) };
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
  const cacheDir = config.cacheDir === false ? false : path.resolve(baseDir, config.cacheDir);
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
