/**
 * The files half of a stage cache entry (entry.json's file hashes and the files/ folder), without cache.ts's model
 * reading and writing, so a whole-run replay (replay.ts) verifies and restores stage folders without loading tfjs.
 * There is one verifier: cache.ts checks an entry's files through `verifiedFiles` too, and adds its model's hash.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';

export const ENTRY_FILE = 'entry.json';
export const FILES_DIR = 'files';
export const ENTRY_FORMAT = 2;

/** What entry.json must hold for its files to be checked (cache.ts's EntryFile has more). */
export interface RecordedFiles {
  format: typeof ENTRY_FORMAT;
  /** sha256 of every file under files/, by '/'-separated path relative to files/. */
  files: Record<string, string>;
}

export class CorruptEntry extends Error {}

export const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** True when the entry is complete (entries are renamed into place whole); whether it verifies is checked on use. */
export function hasCacheEntry(cacheDir: string, key: string): boolean {
  return existsSync(path.join(cacheDir, key, ENTRY_FILE));
}

/** Regular files under `dir` by relative '/' path; anything else (a link, a device) makes the entry invalid. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(dir)).sort()) {
    const full = path.join(dir, name);
    const stats = await lstat(full);
    if (stats.isDirectory()) out.push(...(await listFiles(full, `${prefix}${name}/`)));
    else if (stats.isFile()) out.push(`${prefix}${name}`);
    else throw new CorruptEntry(`${prefix}${name} is not a regular file`);
  }
  return out;
}

/** entry.json of the entry in `dir`, checked for the fields every reader needs. Throws CorruptEntry. */
export async function readEntryRecord<T extends RecordedFiles>(dir: string): Promise<T> {
  let recorded: T;
  try {
    recorded = JSON.parse(await readFile(path.join(dir, ENTRY_FILE), 'utf8')) as T;
  } catch (e) {
    throw new CorruptEntry(`${ENTRY_FILE} is unreadable (${(e as Error).message})`);
  }
  if (recorded?.format !== ENTRY_FORMAT || typeof recorded.files !== 'object' || recorded.files === null) {
    throw new CorruptEntry(`${ENTRY_FILE} has no file hashes (written by another slimnet version)`);
  }
  return recorded;
}

/**
 * The entry's files, each read once and checked against its recorded sha256 (none missing, none added). Throws
 * CorruptEntry saying what differs; the bytes returned are the bytes hashed.
 */
export async function verifiedFiles(dir: string, recorded: RecordedFiles): Promise<Array<{ file: string; bytes: Uint8Array }>> {
  const filesDir = path.join(dir, FILES_DIR);
  const present = await listFiles(filesDir).catch((e) => {
    throw e instanceof CorruptEntry ? e : new CorruptEntry(`${FILES_DIR}/ is unreadable`);
  });
  const expected = Object.keys(recorded.files).sort();
  const missing = expected.filter((f) => !present.includes(f));
  const extra = present.filter((f) => !(f in recorded.files));
  if (missing.length > 0) throw new CorruptEntry(`${FILES_DIR}/${missing[0]} is missing`);
  if (extra.length > 0) throw new CorruptEntry(`${FILES_DIR}/${extra[0]} was not in the entry`);
  const out: Array<{ file: string; bytes: Uint8Array }> = [];
  for (const file of expected) {
    const bytes = await readFile(path.join(filesDir, ...file.split('/')));
    if (sha256(bytes) !== recorded.files[file]) throw new CorruptEntry(`${FILES_DIR}/${file} does not match its sha256`);
    out.push({ file, bytes });
  }
  return out;
}

/** Writes verified files into `restoreInto` and stamps the entry as used now (`slimnet cache prune` drops the least recently used first). */
export async function restoreFiles(dir: string, files: Array<{ file: string; bytes: Uint8Array }>, restoreInto: string): Promise<void> {
  for (const { file, bytes } of files) {
    const to = path.join(restoreInto, ...file.split('/'));
    await mkdir(path.dirname(to), { recursive: true });
    await writeFile(to, bytes);
  }
  const now = new Date();
  await utimes(path.join(dir, ENTRY_FILE), now, now).catch(() => {});
}

export const IR_DIR = 'ir';
export const CALIBRATION_FILE = 'calibration.json';

/** The rest of what entry.json records: the output model's digest and its calibration's (cache.ts writes them). */
interface RecordedModel extends RecordedFiles {
  irSha256?: unknown;
  calibration?: { sha256?: unknown };
}

/** sha256 over ir/model.json and its shards in manifest order — the digest readModelSource computes — without parsing weights. */
async function irDigest(dir: string): Promise<string> {
  try {
    const jsonBytes = await readFile(path.join(dir, IR_DIR, 'model.json'));
    const json = JSON.parse(jsonBytes.toString('utf8')) as { weightsManifest?: Array<{ paths?: string[] }> };
    const hash = createHash('sha256').update(jsonBytes);
    for (const group of json.weightsManifest ?? []) for (const p of group.paths ?? []) hash.update(await readFile(path.join(dir, IR_DIR, path.basename(p))));
    return hash.digest('hex');
  } catch (e) {
    throw new CorruptEntry(`${IR_DIR}/ does not read back: ${(e as Error).message}`);
  }
}

/**
 * Verifies a whole entry — its files, its output model and calibration — and restores its files into `restoreInto`
 * (a replay needs the stage folder only, so the model is hashed, not parsed). Throws CorruptEntry.
 */
export async function restoreEntryFiles(cacheDir: string, key: string, restoreInto: string): Promise<void> {
  const dir = path.join(cacheDir, key);
  const recorded = await readEntryRecord<RecordedModel>(dir);
  if (typeof recorded.irSha256 !== 'string') throw new CorruptEntry(`${ENTRY_FILE} has no model hash (written by another slimnet version)`);
  if ((await irDigest(dir)) !== recorded.irSha256) throw new CorruptEntry(`${IR_DIR}/ (the stage's output model) has changed`);
  if (recorded.calibration) {
    const bytes = await readFile(path.join(dir, CALIBRATION_FILE)).catch(() => {
      throw new CorruptEntry(`${CALIBRATION_FILE} is missing`);
    });
    if (sha256(bytes) !== recorded.calibration.sha256) throw new CorruptEntry(`${CALIBRATION_FILE} does not match its sha256`);
  }
  await restoreFiles(dir, await verifiedFiles(dir, recorded), restoreInto);
}
