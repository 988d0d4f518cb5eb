/**
 * `slimnet cache prune`: keeps a cache folder bounded. Entries are removed least recently used first (a hit stamps
 * the entry, see cache.ts) until the folder is within `maxBytes`, and any entry unused for longer than `maxAgeDays`
 * goes too; `all` empties it. Temporary folders of writers that died (older than an hour) are removed, and so are
 * run memos whose stage entries are gone. Only names slimnet writes there are ever touched.
 */
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { RUNS_DIR } from './run-memo.ts';

export interface PruneOptions {
  maxAgeDays?: number;
  maxBytes?: number;
  all?: boolean;
  dryRun?: boolean;
  now?: number;
}

export interface PruneResult {
  kept: number;
  removed: number;
  freedBytes: number;
  keptBytes: number;
}

const ENTRY = /^[0-9a-f]{64}$/;

function sizeOf(p: string): number {
  const st = statSync(p);
  if (!st.isDirectory()) return st.size;
  return readdirSync(p).reduce((n, name) => n + sizeOf(path.join(p, name)), 0);
}

/** "2G", "500M", "1500000" → bytes. */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?$/i.exec(text.trim());
  if (!m) throw new Error(`not a size: ${text}`);
  return Math.round(Number(m[1]) * 1024 ** ' kmgt'.indexOf((m[2] || ' ').toLowerCase()));
}

export function pruneCache(cacheDir: string, opts: PruneOptions): PruneResult {
  const now = opts.now ?? Date.now();
  const remove = (p: string) => void (opts.dryRun || rmSync(p, { recursive: true, force: true }));
  let freedBytes = 0;
  for (const name of readdirSync(cacheDir)) {
    const p = path.join(cacheDir, name);
    if (name.startsWith('.tmp-') && now - statSync(p).mtimeMs > 3600_000) {
      freedBytes += sizeOf(p);
      remove(p);
    }
  }
  const entries = readdirSync(cacheDir).filter((n) => ENTRY.test(n)).map((name) => {
    const p = path.join(cacheDir, name);
    const stamp = path.join(p, 'entry.json');
    return { name, path: p, used: existsSync(stamp) ? statSync(stamp).mtimeMs : 0, bytes: sizeOf(p) };
  }).sort((a, b) => b.used - a.used);
  let keptBytes = 0;
  let kept = 0;
  let removed = 0;
  const gone = new Set<string>();
  for (const e of entries) {
    const tooOld = opts.maxAgeDays !== undefined && now - e.used > opts.maxAgeDays * 86400_000;
    const tooBig = opts.maxBytes !== undefined && keptBytes + e.bytes > opts.maxBytes;
    if (opts.all || tooOld || tooBig) {
      remove(e.path);
      gone.add(e.name);
      removed++;
      freedBytes += e.bytes;
    } else {
      kept++;
      keptBytes += e.bytes;
    }
  }
  const runs = path.join(cacheDir, RUNS_DIR);
  if (existsSync(runs)) {
    for (const name of readdirSync(runs)) {
      const p = path.join(runs, name);
      let stale = true;
      try {
        const memo = JSON.parse(readFileSync(p, 'utf8')) as { stageKeys?: Record<string, string> };
        stale = opts.all === true || Object.values(memo.stageKeys ?? {}).some((k) => gone.has(k) || !existsSync(path.join(cacheDir, k)));
      } catch {
        stale = true;
      }
      if (stale) {
        freedBytes += statSync(p).size;
        remove(p);
      }
    }
  }
  return { kept, removed, freedBytes, keptBytes };
}
