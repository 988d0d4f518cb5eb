/**
 * Content-addressed stage cache. key = sha256(input model, stage name + options, data fingerprint, seed,
 * evaluation settings, budget, backend, tool build). A hit restores the stage's folder, output model and metrics
 * without running it. Entries are written to a temp folder and renamed, so a crash never leaves a torn entry.
 *
 * Every entry records the sha256 of each of its files; a hit is verified before anything of it is used (the bytes
 * restored are the bytes hashed). A mismatch — a flipped bit, a truncated or added file — discards the entry and the
 * stage runs again: a corrupt entry is never served.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelIR } from './ir.ts';
import { registerCleanup } from './io/pending-cleanup.ts';
import { readModelSource } from './io/read-model.ts';
import { serializeModel, writeModel } from './io/write-model.ts';
import type { Metrics } from './metrics.ts';
import type { StageOutput } from './stage.ts';

export interface CacheKeyParts {
  ir: ModelIR;
  stage: string;
  options: unknown;
  dataFingerprint: string;
  seed: number;
  evaluation: unknown;
  budget: unknown;
  backend: string;
  toolVersion: string;
}

export function stageCacheKey(parts: CacheKeyParts): string {
  const hash = createHash('sha256');
  const { modelJson, shards } = serializeModel(parts.ir);
  hash.update(JSON.stringify(modelJson));
  for (const shard of shards) hash.update(shard);
  // Not in model.json, but what quantised exports are scaled by.
  hash.update(JSON.stringify(parts.ir.calibration ?? null));
  hash.update(
    JSON.stringify([parts.stage, parts.options, parts.dataFingerprint, parts.seed, parts.evaluation, parts.budget, parts.backend, parts.toolVersion]),
  );
  return hash.digest('hex');
}

/** What is needed to replay a stage: its output model's metrics and what it wrote where in its folder. */
export interface CacheEntry {
  metrics: Metrics;
  output: Omit<StageOutput, 'ir' | 'modelJson'> & { modelJson: string };
}

export interface CacheHit {
  entry: CacheEntry;
  ir: ModelIR;
}

const ENTRY_FILE = 'entry.json';
const FILES_DIR = 'files';
const IR_DIR = 'ir';
/** The IR's activation calibration (ModelIR.calibration), which model.json has no place for. */
const CALIBRATION_FILE = 'calibration.json';
const ENTRY_FORMAT = 2;

/** entry.json: the entry, and what its files must hash to. */
interface EntryFile {
  format: typeof ENTRY_FORMAT;
  entry: CacheEntry;
  /** sha256 of every file under files/, by '/'-separated path relative to files/. */
  files: Record<string, string>;
  /** sha256 over ir/model.json and its shards, as readModelSource computes it. */
  irSha256: string;
  /** The IR's activation calibration (ModelIR.calibration), which model.json has no place for; hashed with the rest. */
  calibration?: { sha256: string };
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** Regular files under `dir` by relative '/' path; anything else (a link, a device) makes the entry invalid. */
async function listFiles(dir: string, prefix = ''): Promise<string[]> {
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

class CorruptEntry extends Error {}

/**
 * Verifies an entry and restores its files into `restoreInto`, copying exactly the bytes it hashed. Throws
 * CorruptEntry saying what differs.
 */
async function verifyAndRestore(dir: string, restoreInto: string): Promise<CacheHit> {
  let recorded: EntryFile;
  try {
    recorded = JSON.parse(await readFile(path.join(dir, ENTRY_FILE), 'utf8')) as EntryFile;
  } catch (e) {
    throw new CorruptEntry(`${ENTRY_FILE} is unreadable (${(e as Error).message})`);
  }
  if (recorded?.format !== ENTRY_FORMAT || typeof recorded.files !== 'object' || recorded.files === null || typeof recorded.irSha256 !== 'string') {
    throw new CorruptEntry(`${ENTRY_FILE} has no file hashes (written by another slimnet version)`);
  }
  const filesDir = path.join(dir, FILES_DIR);
  const present = await listFiles(filesDir).catch((e) => {
    throw e instanceof CorruptEntry ? e : new CorruptEntry(`${FILES_DIR}/ is unreadable`);
  });
  const expected = Object.keys(recorded.files).sort();
  const missing = expected.filter((f) => !present.includes(f));
  const extra = present.filter((f) => !(f in recorded.files));
  if (missing.length > 0) throw new CorruptEntry(`${FILES_DIR}/${missing[0]} is missing`);
  if (extra.length > 0) throw new CorruptEntry(`${FILES_DIR}/${extra[0]} was not in the entry`);
  let ir: ModelIR;
  try {
    const source = await readModelSource(path.join(dir, IR_DIR, 'model.json'));
    if (source.sha256 !== recorded.irSha256) throw new CorruptEntry(`${IR_DIR}/ (the stage's output model) has changed`);
    ir = source.ir;
  } catch (e) {
    throw e instanceof CorruptEntry ? e : new CorruptEntry(`${IR_DIR}/ does not read back: ${(e as Error).message}`);
  }
  await restoreCalibration(dir, recorded, ir);
  const restored: Array<{ to: string; bytes: Uint8Array }> = [];
  for (const file of expected) {
    const bytes = await readFile(path.join(filesDir, ...file.split('/')));
    if (sha256(bytes) !== recorded.files[file]) throw new CorruptEntry(`${FILES_DIR}/${file} does not match its sha256`);
    restored.push({ to: path.join(restoreInto, ...file.split('/')), bytes });
  }
  for (const { to, bytes } of restored) {
    await mkdir(path.dirname(to), { recursive: true });
    await writeFile(to, bytes);
  }
  return { entry: recorded.entry, ir };
}

/** The entry's calibration (verified against its recorded sha256) set on `ir`; an entry without one leaves it unset. */
async function restoreCalibration(dir: string, recorded: EntryFile, ir: ModelIR): Promise<void> {
  if (!recorded.calibration) return;
  const bytes = await readFile(path.join(dir, CALIBRATION_FILE)).catch(() => {
    throw new CorruptEntry(`${CALIBRATION_FILE} is missing`);
  });
  if (sha256(bytes) !== recorded.calibration.sha256) throw new CorruptEntry(`${CALIBRATION_FILE} does not match its sha256`);
  ir.calibration = JSON.parse(bytes.toString('utf8')) as ModelIR['calibration'];
}

/**
 * The verified entry for `key`, restored into `restoreInto`; undefined on a miss. A corrupt entry is removed
 * (`log` says so) and reported as a miss, so the stage runs again.
 */
export async function readCache(cacheDir: string, key: string, restoreInto: string, log: (message: string) => void = () => {}): Promise<CacheHit | undefined> {
  const dir = path.join(cacheDir, key);
  if (!existsSync(dir)) return undefined;
  try {
    return await verifyAndRestore(dir, restoreInto);
  } catch (e) {
    if (!(e instanceof CorruptEntry)) throw e;
    log(`cache entry ${key.slice(0, 12)} is corrupt (${e.message}); discarded, running the stage again`);
    await rm(restoreInto, { recursive: true, force: true });
    await mkdir(restoreInto, { recursive: true });
    await rm(dir, { recursive: true, force: true });
    return undefined;
  }
}

/** Stores a stage's result. A failure to store (disk full, permissions) is logged, never fails the run. */
export async function writeCache(cacheDir: string, key: string, stageDir: string, ir: ModelIR, entry: CacheEntry, log: (message: string) => void = () => {}): Promise<void> {
  const finalDir = path.join(cacheDir, key);
  if (existsSync(finalDir)) return;
  const tmp = path.join(cacheDir, `.tmp-${randomBytes(6).toString('hex')}`);
  const done = registerCleanup({ kind: 'remove', path: tmp });
  try {
    await mkdir(path.join(tmp, FILES_DIR), { recursive: true });
    const files: Record<string, string> = {};
    for (const file of await listFiles(stageDir)) {
      const bytes = await readFile(path.join(stageDir, ...file.split('/')));
      files[file] = sha256(bytes);
      const to = path.join(tmp, FILES_DIR, ...file.split('/'));
      await mkdir(path.dirname(to), { recursive: true });
      await writeFile(to, bytes);
    }
    const written = await writeModel(ir, path.join(tmp, IR_DIR));
    // The same digest readModelSource computes on a hit: model.json, then the shards in manifest order.
    const irHash = createHash('sha256').update(await readFile(written.modelJsonPath));
    for (const f of written.files) if (f !== written.modelJsonPath) irHash.update(await readFile(f));
    const irSha256 = irHash.digest('hex');
    let calibration: EntryFile['calibration'];
    if (ir.calibration) {
      const bytes = Buffer.from(JSON.stringify(ir.calibration));
      await writeFile(path.join(tmp, CALIBRATION_FILE), bytes);
      calibration = { sha256: sha256(bytes) };
    }
    const record: EntryFile = { format: ENTRY_FORMAT, entry, files, irSha256, ...(calibration ? { calibration } : {}) };
    await writeFile(path.join(tmp, ENTRY_FILE), JSON.stringify(record));
    await rename(tmp, finalDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    // Another run may have written the same key meanwhile: that entry is equally valid.
    if (!existsSync(finalDir)) {
      const code = (e as NodeJS.ErrnoException).code;
      if (!code) throw e;
      log(`could not store the result in the cache (${code}: ${(e as Error).message}); continuing without it`);
    }
  } finally {
    done();
  }
}

/** An entry's metrics and output model without restoring its files or writing anything (what `--dry-run` looks ahead with). */
export async function peekCache(cacheDir: string, key: string): Promise<CacheHit | undefined> {
  const dir = path.join(cacheDir, key);
  if (!existsSync(path.join(dir, ENTRY_FILE))) return undefined;
  // A dry run only looks: an entry that does not verify is what a run would discard and run again (a miss).
  try {
    const recorded = JSON.parse(await readFile(path.join(dir, ENTRY_FILE), 'utf8')) as EntryFile;
    if (recorded?.format !== ENTRY_FORMAT) return undefined;
    const source = await readModelSource(path.join(dir, IR_DIR, 'model.json'));
    if (source.sha256 !== recorded.irSha256) return undefined;
    // The next stage's key covers the calibration: without it the look-ahead would miss what a run hits.
    await restoreCalibration(dir, recorded, source.ir);
    return { entry: recorded.entry, ir: source.ir };
  } catch {
    return undefined;
  }
}
