/**
 * Replays a memoised run (run-memo.ts): the same folder checks as a real run, the stage folders restored from their
 * cache entries (each file checked against its sha256 first) into the run's scratch folder, the report re-written with every stage marked cached, then the same
 * atomic swap into `--out`. Imports nothing heavy (no tfjs, no onnxruntime, no stage code): a warm run is mostly
 * process start-up and file copies.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResolvedConfig } from '../config.ts';
import { CorruptEntry, hasCacheEntry, restoreEntryFiles } from './entry-files.ts';
import { checkOutFolder, prepareCacheFolder, protectedPaths, RunFolder } from '../io/output-folder.ts';
import { renderMarkdown, type Report } from '../report.ts';
import { renderHtml } from '../report-html/render.ts';
import { readRunMemo, runMemoKey } from './run-memo.ts';

export interface ReplayResult {
  report: Report;
  outDir: string;
  exitCode: 0 | 1;
}

/** True when `config`'s run has a complete memo (every stage entry present): tryReplay will most likely serve it. */
export async function canReplay(config: ResolvedConfig): Promise<boolean> {
  const cacheDir = config.cacheDir;
  const key = cacheDir && config.out ? runMemoKey(config) : undefined;
  const memo = cacheDir && key ? await readRunMemo(cacheDir, key) : undefined;
  return !!memo && Object.values(memo.stageKeys).every((k) => hasCacheEntry(cacheDir as string, k));
}

/** The replayed run, or undefined when there is no complete memo for these inputs (then run it for real). */
export async function tryReplay(config: ResolvedConfig, opts: { force?: boolean; log?: (m: string) => void } = {}): Promise<ReplayResult | undefined> {
  const started = performance.now();
  const cacheDir = config.cacheDir;
  if (!cacheDir || !config.out) return undefined;
  const key = runMemoKey(config);
  if (!key) return undefined;
  const memo = await readRunMemo(cacheDir, key);
  if (!memo || !Object.values(memo.stageKeys).every((k) => hasCacheEntry(cacheDir, k))) return undefined;
  const outDir = config.out;
  const guards = protectedPaths(config);
  checkOutFolder(outDir, { ...guards, cacheDir }, opts.force);
  prepareCacheFolder(cacheDir, { ...guards, out: outDir });
  const folder = await RunFolder.begin(outDir);
  try {
    try {
      for (const [stage, stageKey] of Object.entries(memo.stageKeys)) await restoreEntryFiles(cacheDir, stageKey, path.join(folder.dir, stage));
    } catch (e) {
      if (!(e instanceof CorruptEntry)) throw e;
      // The real run verifies again, discards the bad entry and recomputes that stage.
      opts.log?.(`not replayed: a stage's cache entry does not verify (${e.message})`);
      return undefined;
    }
    const report: Report = {
      ...memo.report,
      stages: memo.report.stages.map((s) => ({ ...s, cached: true, seconds: 0 })),
      seconds: (performance.now() - started) / 1000,
      cache: { dir: cacheDir, replayed: true },
    };
    const renderers = Object.fromEntries(Object.entries(memo.sections).map(([name, lines]) => [name, () => lines]));
    await writeFile(path.join(folder.dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
    await writeFile(path.join(folder.dir, 'report.md'), renderMarkdown(report, renderers));
    await writeFile(path.join(folder.dir, 'report.html'), renderHtml(report));
    await folder.commit(() => checkOutFolder(outDir, { ...guards, cacheDir }, opts.force));
    opts.log?.(`replayed from the cache (run ${key.slice(0, 12)}): nothing that feeds this run changed`);
    return { report, outDir, exitCode: memo.exitCode };
  } finally {
    await folder.abort();
  }
}
