/** `slimnet cache prune`: bounds the stage cache folder compress would use (pipeline/cache/prune.ts). */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { resolveCacheDir } from '../cache/location.ts';
import { parseSize, pruneCache } from '../cache/prune.ts';
import { SlimnetError } from '../errors.ts';
import { DEFAULT_CONFIG_FILE, loadConfig, NO_CONFIG } from '../load-config.ts';
import type { CliIO } from './shared.ts';

export interface CachePruneArgs {
  config?: string;
  'cache-dir'?: string;
  'max-age'?: number;
  'max-size'?: string;
  all: boolean;
  'dry-run': boolean;
  verbose: boolean;
}

/** The cache folder compress would use here: --cache-dir, else the config's (env and config key included), else the default. */
async function cacheFolder(args: CachePruneArgs): Promise<string | false> {
  if (args['cache-dir'] !== undefined) return path.resolve(args['cache-dir']);
  const configFile = args.config === NO_CONFIG ? undefined : args.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (!configFile) return resolveCacheDir({}, process.cwd(), process.cwd());
  const { raw, file } = await loadConfig(configFile, {}).catch(async (e) => {
    // A config that does not validate on its own (e.g. its model is given by flags) still names its cache folder.
    if (!(e instanceof SlimnetError) || e.code === 'CONFIG_NOT_FOUND') throw e;
    return { raw: undefined, file: path.resolve(configFile) };
  });
  return resolveCacheDir({ config: raw?.cacheDir }, path.dirname(file ?? path.resolve(configFile)), process.cwd());
}

export async function cachePrune(args: CachePruneArgs, io: CliIO): Promise<number> {
  const dir = await cacheFolder(args);
  if (!dir || !existsSync(dir)) {
    io.stdout(`cache ${dir || '(disabled)'}: nothing to prune\n`);
    return 0;
  }
  let maxBytes: number | undefined;
  if (args['max-size'] !== undefined) {
    try {
      maxBytes = parseSize(args['max-size']);
    } catch {
      throw new SlimnetError('CONFIG_INVALID', '--max-size', `not a size: "${args['max-size']}"`, 'e.g. 2G, 500M, 1500000');
    }
  }
  const maxAgeDays = args['max-age'] ?? (maxBytes === undefined && !args.all ? 14 : undefined);
  const r = pruneCache(dir, { maxBytes, maxAgeDays, all: args.all, dryRun: args['dry-run'] });
  const mb = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MB`;
  io.stdout(`cache ${path.relative(process.cwd(), dir) || dir}: ${args['dry-run'] ? 'would remove' : 'removed'} ${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} (${mb(r.freedBytes)}), kept ${r.kept} (${mb(r.keptBytes)})\n`);
  return 0;
}
