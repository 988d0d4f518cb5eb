/**
 * The whole-run memo: when nothing that feeds a run has changed — slimnet's build, the resolved config, the model's
 * files, the data's files, the platform — the run is replayed from the cache instead of recomputed (as turborepo or
 * bazel replay a task whose input hash they have seen). The memo is keyed by hashes of *files*, so deciding costs
 * reading the inputs once and no model, data decoding, tfjs or onnxruntime; that is what makes a warm
 * `npm run compress` a small fraction of a cold one.
 *
 * A memo holds the report as computed, each stage's rendered report.md section, and the cache key of each stage's
 * entry; the stage folders are restored from those entries (pipeline/cache.ts, verified there before use). A run
 * with a failed stage is never memoised, so it runs again. Anything the key cannot see (data from a config's
 * `load()` function) is never memoised either: such runs go through the per-stage cache.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedConfig } from '../config.ts';
import type { Report } from '../report.ts';
import { toolBuildId } from '../version.ts';

export const RUNS_DIR = 'runs';

export interface RunMemo {
  report: Report;
  /** report.md section lines of each stage, rendered when the run was computed. */
  sections: Record<string, string[]>;
  /** Stage name → key of the cache entry holding its folder. */
  stageKeys: Record<string, string>;
  exitCode: 0 | 1;
}

function hashFile(hash: ReturnType<typeof createHash>, file: string): void {
  hash.update(`${path.basename(file)}\0${statSync(file).size}\0`).update(readFileSync(file));
}

/** The files a model path stands for: model.json and the shards its manifest names, a single file, or a folder's files. */
function modelFiles(model: string): string[] {
  const st = statSync(model);
  if (st.isDirectory()) {
    return readdirSync(model, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
  }
  if (!model.endsWith('.json')) return [model];
  const json = JSON.parse(readFileSync(model, 'utf8')) as { weightsManifest?: Array<{ paths?: string[] }> };
  const shards = (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []).map((p) => path.join(path.dirname(model), p));
  return [model, ...shards];
}

/** What identifies the data's content, or undefined when only running the config's code could tell. */
function dataIdentity(config: ResolvedConfig, hash: ReturnType<typeof createHash>): boolean {
  const data = config.data;
  const hashFolder = (label: string, dir: string) => {
    const files = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(dir, e.name)).sort();
    hash.update(`${label}\0${files.length}\0`);
    for (const f of files) hashFile(hash, f);
  };
  const validation = data.validation;
  if (validation) {
    if (validation.source !== 'idx') return false;
    hashFolder('validation-idx', validation.dir);
  }
  if (data.source === 'idx') {
    hashFolder('idx', data.dir);
    return true;
  }
  if (data.source === 'mnist-package') {
    // Its version pins its digits (and package-lock.json, part of toolBuildId, pins its integrity hash).
    const version = (JSON.parse(readFileSync(createRequire(import.meta.url).resolve('mnist/package.json'), 'utf8')) as { version: string }).version;
    hash.update(`mnist-package@${version}\0`);
    return true;
  }
  return false;
}

/** Everything that determines a run's result, or undefined when it cannot be known without running it. */
export function runMemoKey(config: ResolvedConfig): string | undefined {
  const hash = createHash('sha256');
  try {
    if (!dataIdentity(config, hash)) return undefined;
    const files = modelFiles(config.model);
    hash.update(`model\0${files.length}\0`);
    for (const f of files) hashFile(hash, f);
  } catch {
    // Unreadable inputs: let the full run report them properly.
    return undefined;
  }
  const tfjsNode = existsSync(path.join(path.dirname(createRequire(import.meta.url).resolve('@tensorflow/tfjs/package.json')), '..', 'tfjs-node', 'package.json'));
  const { cacheDir: _cache, ...rest } = config;
  hash.update(JSON.stringify({
    tool: toolBuildId(), config: rest, tfjsNode, platform: process.platform, arch: process.arch, node: process.versions.node.split('.')[0],
  }));
  return hash.digest('hex');
}

function memoFile(cacheDir: string, key: string): string {
  return path.join(cacheDir, RUNS_DIR, `${key}.json`);
}

export async function readRunMemo(cacheDir: string, key: string): Promise<RunMemo | undefined> {
  const file = memoFile(cacheDir, key);
  try {
    const memo = JSON.parse(await readFile(file, 'utf8')) as RunMemo;
    if (!memo?.report || !memo.stageKeys || !memo.sections) return undefined;
    return memo;
  } catch {
    return undefined;
  }
}

/** Written beside its final name and renamed: a reader never sees half a memo. */
export async function writeRunMemo(cacheDir: string, key: string, memo: RunMemo): Promise<void> {
  const file = memoFile(cacheDir, key);
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    await writeFile(tmp, JSON.stringify(memo));
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

export async function dropRunMemo(cacheDir: string, key: string): Promise<void> {
  await rm(memoFile(cacheDir, key), { force: true });
}
