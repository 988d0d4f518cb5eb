/** The parts of a stage cache entry a replay needs, without cache.ts's model reading and writing (kept light). */
import { existsSync } from 'node:fs';
import { cp, utimes } from 'node:fs/promises';
import path from 'node:path';

export const ENTRY_FILE = 'entry.json';
export const FILES_DIR = 'files';

/** True when the entry is complete (entries are renamed into place whole). */
export function hasCacheEntry(cacheDir: string, key: string): boolean {
  return existsSync(path.join(cacheDir, key, ENTRY_FILE));
}

/**
 * Copies an entry's stage folder into `restoreInto` and stamps the entry as used now (`slimnet cache prune`
 * removes the least recently used first).
 */
export async function restoreEntryFiles(cacheDir: string, key: string, restoreInto: string): Promise<void> {
  const dir = path.join(cacheDir, key);
  await cp(path.join(dir, FILES_DIR), restoreInto, { recursive: true });
  const now = new Date();
  await utimes(path.join(dir, ENTRY_FILE), now, now).catch(() => {});
}
