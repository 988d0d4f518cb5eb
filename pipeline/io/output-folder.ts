/**
 * The folders a run writes: `--out` and the cache folder. slimnet only replaces or deletes what it created.
 *
 * Rules (README, "Where slimnet writes"):
 * - a folder slimnet creates carries a marker file (`.slimnet.json`) listing what it wrote;
 * - `--out` may be a new path, an empty folder, or a folder slimnet created (then it is replaced as a whole,
 *   atomically). A folder holding anything slimnet did not write there is refused; `--force` replaces a slimnet
 *   folder anyway, but never makes a foreign folder replaceable;
 * - refused always: a file or symbolic link; the model's or data's folder, the current folder, the home folder
 *   or the filesystem root, or any parent of them; a folder inside the cache folder or holding it;
 * - the cache folder follows the same rules (a new or empty folder, or one slimnet created);
 * - the run is assembled in a hidden scratch folder beside `--out` (`.<name>.slimnet-partial-…`) and renamed into
 *   place; it is removed on every exit, and a later run sweeps one left by a killed process.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, statSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, rename, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SlimnetError } from '../errors.ts';
import { registerCleanup } from './pending-cleanup.ts';

export const MARKER_FILE = '.slimnet.json';

type FolderKind = 'run' | 'cache' | 'scratch';

interface Marker {
  createdBy: 'slimnet';
  kind: FolderKind;
  /** Top-level entries slimnet wrote (run folders). */
  entries?: string[];
}

/** Paths a run must never replace, delete or write into the parents of. */
export interface ProtectedPaths {
  /** The input model file (its folder is protected). */
  model: string;
  /** The data folder, when data come from files. */
  dataDir?: string;
  /** A separate validation set's folder (data.validation). */
  validationDir?: string;
  cwd?: string;
}

/** How the user named the folder in messages: relative to the cwd when inside it. */
function shown(p: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, p);
  return rel === '' ? '.' : !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

/** The absolute path with every symbolic link of its existing part resolved. */
export function realPathOf(p: string): string {
  const abs = path.resolve(p);
  const missing: string[] = [];
  let at = abs;
  for (;;) {
    try {
      return path.join(realpathSync(at), ...missing.reverse());
    } catch {
      const parent = path.dirname(at);
      if (parent === at) return abs;
      missing.push(path.basename(at));
      at = parent;
    }
  }
}

/** True when `inner` is `outer` or lies beneath it. */
export function isWithin(inner: string, outer: string): boolean {
  const rel = path.relative(outer, inner);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

function readMarker(dir: string): Marker | undefined {
  try {
    const m = JSON.parse(readFileSync(path.join(dir, MARKER_FILE), 'utf8')) as Marker;
    return m?.createdBy === 'slimnet' ? m : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What slimnet wrote in a run folder: the marker's list, or for a folder written before markers existed, what its
 * own report.json names (report.json, report.md and one folder per stage). Undefined: not slimnet's.
 */
function slimnetEntries(dir: string): string[] | undefined {
  const marker = readMarker(dir);
  if (marker?.kind === 'run') return [...(marker.entries ?? []), MARKER_FILE];
  try {
    const report = JSON.parse(readFileSync(path.join(dir, 'report.json'), 'utf8')) as { tool?: { name?: string }; stages?: Array<{ name?: unknown }> };
    if (report?.tool?.name !== 'slimnet' || !Array.isArray(report.stages)) return undefined;
    return ['report.json', 'report.md', ...report.stages.map((s) => String(s?.name))];
  } catch {
    return undefined;
  }
}

function refuse(folder: string, message: string, hint: string): SlimnetError {
  return new SlimnetError('OUTPUT_REFUSED', folder, message, hint);
}

function listing(names: string[]): string {
  const shownNames = names.slice(0, 3).join(', ');
  return names.length > 3 ? `${shownNames}, … (${names.length} entries)` : shownNames;
}

/**
 * Refuses an output or cache folder that would contain, or be, something slimnet must not touch.
 * `label` is how messages name the folder (`--out artifacts/run1`, `cacheDir .cache`).
 */
function checkPlacement(label: string, folder: string, guards: ProtectedPaths, others: Array<{ path: string; what: string }>): void {
  const real = realPathOf(folder);
  const cwd = guards.cwd ?? process.cwd();
  const protectedPaths: Array<{ path: string; what: string }> = [
    // A model given as a folder (an unzipped .keras) is its own folder.
    { path: statOrUndefined(guards.model)?.isDirectory() ? realPathOf(guards.model) : path.dirname(realPathOf(guards.model)), what: `the model's folder (${shown(guards.model, cwd)})` },
    ...(guards.dataDir ? [{ path: realPathOf(guards.dataDir), what: `the data folder (${shown(guards.dataDir, cwd)})` }] : []),
    ...(guards.validationDir ? [{ path: realPathOf(guards.validationDir), what: `the validation data folder (${shown(guards.validationDir, cwd)})` }] : []),
    { path: realPathOf(cwd), what: 'the current folder' },
    { path: realPathOf(os.homedir()), what: 'your home folder' },
    ...others,
  ];
  if (real === path.parse(real).root) throw refuse(label, 'is the filesystem root', 'name a new folder, e.g. artifacts/run1');
  for (let at = path.dirname(path.resolve(folder)); ; at = path.dirname(at)) {
    const entry = statOrUndefined(at);
    if (entry && !entry.isDirectory()) throw refuse(label, `is below ${shown(at, cwd)}, which is a file, not a folder`, 'every parent of the path must be a folder');
    if (entry || path.dirname(at) === at) break;
  }
  for (const p of protectedPaths) {
    if (isWithin(p.path, real)) {
      const relation = p.path === real ? 'is' : 'contains';
      throw refuse(label, `${relation} ${p.what}; slimnet replaces its output folder as a whole`, 'name a new folder, e.g. artifacts/run1');
    }
  }
}

/** `--out` must be a new path, an empty folder or a folder slimnet created; see the module comment. */
export function checkOutFolder(out: string, guards: ProtectedPaths & { cacheDir?: string | false }, force = false): void {
  const label = `--out ${shown(out, guards.cwd)}`;
  const cache = guards.cacheDir ? realPathOf(guards.cacheDir) : undefined;
  if (cache && isWithin(realPathOf(out), cache)) {
    throw refuse(label, 'is inside the cache folder', 'name an output folder outside cacheDir');
  }
  checkPlacement(label, out, guards, cache ? [{ path: cache, what: `the cache folder (${shown(cache, guards.cwd)})` }] : []);
  const entry = lstatOrUndefined(out);
  if (!entry) return;
  if (entry.isSymbolicLink()) throw refuse(label, 'is a symbolic link', 'name the folder itself, or a new folder');
  if (!entry.isDirectory()) throw refuse(label, 'is a file, not a folder', 'name a folder for the run\'s artifacts');
  const present = readdirSync(out);
  if (present.length === 0) return;
  const ours = slimnetEntries(out);
  if (!ours) {
    throw refuse(label, `is a folder slimnet did not create (it holds ${listing(present)})`,
      'slimnet only replaces folders it created: name a new or empty folder');
  }
  const foreign = present.filter((n) => !ours.includes(n));
  if (foreign.length > 0 && !force) {
    throw refuse(label, `holds files slimnet did not write there (${listing(foreign)})`,
      'move them elsewhere, or pass --force to replace the folder with them');
  }
}

/** Creates the cache folder (or adopts a pre-marker one) and checks it is slimnet's; see the module comment. */
export function prepareCacheFolder(cacheDir: string, guards: ProtectedPaths & { out: string }): void {
  const label = `cacheDir ${shown(cacheDir, guards.cwd)}`;
  const out = realPathOf(guards.out);
  if (isWithin(realPathOf(cacheDir), out)) {
    throw refuse(label, 'is inside the output folder, which each run replaces', 'put the cache outside --out (default artifacts/.cache)');
  }
  checkPlacement(label, cacheDir, guards, []);
  const entry = lstatOrUndefined(cacheDir);
  if (entry?.isSymbolicLink()) {
    // A link to a cache folder elsewhere (e.g. a CI volume) is fine when its target passes the same checks.
    if (!statOrUndefined(cacheDir)?.isDirectory()) throw refuse(label, 'is a symbolic link to something that is not a folder', 'name a folder');
  } else if (entry && !entry.isDirectory()) {
    throw refuse(label, 'is a file, not a folder', 'name a folder for the cache, or set cacheDir: false');
  }
  if (entry) {
    const present = readdirSync(cacheDir).filter((n) => n !== MARKER_FILE);
    const marker = readMarker(cacheDir);
    // Caches written before markers existed hold only entry folders (sha256 names) and temp folders.
    const looksLikeCache = present.every((n) => /^[0-9a-f]{64}$/.test(n) || n.startsWith('.tmp-'));
    if (marker?.kind !== 'cache' && !(present.length === 0 || looksLikeCache)) {
      throw refuse(label, `is a folder slimnet did not create (it holds ${listing(present)})`,
        'name a new or empty folder for the cache, or set cacheDir: false');
    }
    if (marker?.kind === 'cache') return;
  }
  try {
    mkdirSync(cacheDir, { recursive: true });
    writeMarkerSync(cacheDir, { createdBy: 'slimnet', kind: 'cache' });
  } catch (e) {
    throw unwritable(`cacheDir ${shown(cacheDir, guards.cwd)}`, e);
  }
}

function writeMarkerSync(dir: string, marker: Marker): void {
  // Small and written once; a torn marker reads as "not slimnet's", which only makes slimnet more careful.
  const text = JSON.stringify(marker) + '\n';
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, MARKER_FILE), text);
}

function lstatOrUndefined(p: string) {
  try {
    return lstatSync(p);
  } catch {
    return undefined;
  }
}

function statOrUndefined(p: string) {
  try {
    return statSync(p);
  } catch {
    return undefined;
  }
}

/** A filesystem error on one of the run's folders as a user-fixable error naming it. */
export function unwritable(label: string, e: unknown): unknown {
  const code = (e as NodeJS.ErrnoException)?.code;
  const reasons: Record<string, [string, string]> = {
    EACCES: ['is not writable (permission denied)', 'choose a folder you can write to'],
    EPERM: ['is not writable (operation not permitted)', 'choose a folder you can write to'],
    EROFS: ['is on a read-only filesystem', 'choose a folder on a writable disk'],
    ENOTDIR: ['is below a file, not a folder', 'every parent of the path must be a folder'],
    EEXIST: ['exists and is not a folder', 'name a folder'],
    ENOSPC: ['cannot be written: no space left on the device', 'free disk space or choose another disk'],
    EDQUOT: ['cannot be written: disk quota exceeded', 'free disk space or choose another disk'],
    ENAMETOOLONG: ['has a name that is too long', 'choose a shorter path'],
    ELOOP: ['goes through a loop of symbolic links', 'name a real folder'],
  };
  const reason = code ? reasons[code] : undefined;
  if (!reason) return e;
  const err = new SlimnetError('OUTPUT_UNWRITABLE', label, reason[0], reason[1]);
  err.cause = e;
  return err;
}

const SCRATCH_TAG = 'slimnet-partial';
const ASIDE_TAG = 'slimnet-old';

function siblingName(out: string, tag: string): string {
  return path.join(path.dirname(out), `.${path.basename(out)}.${tag}-${process.pid}-${randomBytes(4).toString('hex')}`);
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * A killed run (SIGKILL, power loss) cannot clean up: the next run for the same --out removes its scratch folder
 * and, if it died between the two renames of the swap, puts the previous artifacts back.
 */
async function sweepLeftovers(out: string): Promise<void> {
  const parent = path.dirname(out);
  const base = path.basename(out);
  let names: string[];
  try {
    names = await readdir(parent);
  } catch {
    return;
  }
  const pattern = new RegExp(`^\\.${base.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\.(${SCRATCH_TAG}|${ASIDE_TAG})-(\\d+)-[0-9a-f]{8}$`);
  for (const name of names) {
    const m = pattern.exec(name);
    if (!m || isAlive(Number(m[2]))) continue;
    const leftover = path.join(parent, name);
    if (!readMarker(leftover)) continue;
    if (m[1] === ASIDE_TAG && !lstatOrUndefined(out)) await rename(leftover, out);
    else await rm(leftover, { recursive: true, force: true });
  }
}

/**
 * The scratch folder a run is assembled in, beside `--out`. `commit` swaps it into place; `abort` removes it.
 * Both (and any process exit before them) leave `--out` either as it was or as the complete new run.
 */
export class RunFolder {
  private readonly doneScratch: () => void;
  private finished = false;

  private constructor(readonly out: string, readonly dir: string) {
    this.doneScratch = registerCleanup({ kind: 'remove', path: dir });
  }

  /** Creates the scratch folder; errors such as a read-only or missing parent are exit-2 errors naming --out. */
  static async begin(out: string): Promise<RunFolder> {
    const label = `--out ${shown(out)}`;
    try {
      await mkdir(path.dirname(out), { recursive: true });
      await sweepLeftovers(out);
      const dir = siblingName(out, SCRATCH_TAG);
      await mkdir(dir);
      const folder = new RunFolder(out, dir);
      await writeFile(path.join(dir, MARKER_FILE), JSON.stringify({ createdBy: 'slimnet', kind: 'scratch' } satisfies Marker) + '\n');
      return folder;
    } catch (e) {
      throw unwritable(label, e);
    }
  }

  /** Marks the finished run, checks --out is still replaceable (`recheck`), and swaps it into place. */
  async commit(recheck: () => void): Promise<void> {
    const label = `--out ${shown(this.out)}`;
    try {
      const entries = (await readdir(this.dir)).filter((n) => n !== MARKER_FILE).sort();
      await writeFile(path.join(this.dir, MARKER_FILE), JSON.stringify({ createdBy: 'slimnet', kind: 'run', entries } satisfies Marker) + '\n');
      recheck();
      if (!lstatOrUndefined(this.out)) {
        await rename(this.dir, this.out);
      } else {
        const aside = siblingName(this.out, ASIDE_TAG);
        const doneRestore = registerCleanup({ kind: 'restore', from: aside, to: this.out });
        await rename(this.out, aside);
        try {
          await rename(this.dir, this.out);
        } catch (e) {
          await rename(aside, this.out);
          doneRestore();
          throw e;
        }
        doneRestore();
        const doneAside = registerCleanup({ kind: 'remove', path: aside });
        await rm(aside, { recursive: true, force: true });
        doneAside();
      }
    } catch (e) {
      throw unwritable(label, e);
    }
    this.finished = true;
    this.doneScratch();
  }

  async abort(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await rm(this.dir, { recursive: true, force: true });
    this.doneScratch();
  }
}
