/**
 * Where the stage cache lives when nothing says otherwise: `node_modules/.cache/slimnet` of the project (the folder
 * with the nearest package.json above the config file, or above the current folder without one) — the convention
 * babel, eslint, webpack and vite follow, so CI setups that already persist node_modules/.cache persist slimnet's
 * too. Without a package.json anywhere above, `.slimnet-cache` beside the config (or in the current folder).
 *
 * Precedence: `--no-cache` > `--cache-dir` > `$SLIMNET_CACHE_DIR` > the config's `cacheDir` > this default.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';

export const CACHE_ENV = 'SLIMNET_CACHE_DIR';

function projectRoot(start: string): string | undefined {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** The default cache folder for a config in `baseDir` (the config file's folder, or the cwd without one). */
export function defaultCacheDir(baseDir: string): string {
  const root = projectRoot(baseDir);
  return root ? path.join(root, 'node_modules', '.cache', 'slimnet') : path.join(path.resolve(baseDir), '.slimnet-cache');
}

export interface CacheDirSources {
  /** --no-cache */
  noCache?: boolean;
  /** --cache-dir, relative to the cwd */
  flag?: string;
  /** the config's cacheDir (undefined: not set), relative to the config's folder */
  config?: string | false;
  env?: NodeJS.ProcessEnv;
}

/** The cache folder to use (absolute), or false when caching is off. */
export function resolveCacheDir(sources: CacheDirSources, baseDir: string, cwd: string): string | false {
  if (sources.noCache) return false;
  if (sources.flag !== undefined) return path.resolve(cwd, sources.flag);
  const env = (sources.env ?? process.env)[CACHE_ENV];
  if (env) return path.resolve(cwd, env);
  if (sources.config === false) return false;
  if (sources.config !== undefined) return path.resolve(baseDir, sources.config);
  return defaultCacheDir(baseDir);
}
