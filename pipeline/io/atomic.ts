/**
 * Atomic file and directory writes: a reader (or a crash) never sees a half-written artifact.
 * Everything is first written beside its target (same directory, hence same filesystem, so rename is atomic).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { registerCleanup } from './pending-cleanup.ts';

/** A name beside `target` that no other writer will pick: `.<base>.tmp-<pid>-<random>`. */
export function tempPathBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Writes `data` to a temp file beside `path`, then renames it over `path`. Creates the parent directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathBeside(path);
  const done = registerCleanup({ kind: 'remove', path: tmp });
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  } finally {
    done();
  }
}
