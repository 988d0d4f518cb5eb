/**
 * Atomic file and directory writes: a reader (or a crash) never sees a half-written artifact.
 * Everything is first written beside its target (same directory, hence same filesystem, so rename is atomic).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** A name beside `target` that no other writer will pick: `.<base>.tmp-<pid>-<random>`. */
export function tempPathBeside(target: string): string {
  return join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/** Writes `data` to a temp file beside `path`, then renames it over `path`. Creates the parent directory. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = tempPathBeside(path);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Puts the fully written directory `tmpDir` at `finalDir`, replacing whatever was there.
 * When `finalDir` does not exist this is one rename. Otherwise the old directory is first renamed aside and
 * only deleted once the new one is in place, so at every moment `finalDir` is either the old or the new tree
 * (apart from the instant between the two renames) and a failure restores the old one.
 */
export async function replaceDirAtomic(tmpDir: string, finalDir: string): Promise<void> {
  await mkdir(dirname(finalDir), { recursive: true });
  if (!(await exists(finalDir))) {
    await rename(tmpDir, finalDir);
    return;
  }
  const aside = tempPathBeside(finalDir) + '-old';
  await rename(finalDir, aside);
  try {
    await rename(tmpDir, finalDir);
  } catch (e) {
    await rename(aside, finalDir);
    throw e;
  }
  await rm(aside, { recursive: true, force: true });
}
