/**
 * A deterministic ustar writer and a strict reader, for release packs (`slimnet pack` / `verify`).
 *
 * Written here rather than taken from a tar library because what matters is what is *left out*: every header field
 * is fixed by us (mode 0644, uid/gid 0, no user or group names, mtime 0, entries in the order given), so nothing of
 * the machine (umask, owner, clock, directory order) reaches the bytes; and the reader is for untrusted archives:
 * regular files only, relative paths without `..`, sizes checked against the archive, every header checksum checked.
 * ustar is small (512-byte headers, octal fields), so this is a hundred lines rather than a dependency to configure.
 */
import { gunzipSync, gzipSync } from 'node:zlib';

const BLOCK = 512;

export interface TarEntry {
  /** Relative path with '/' separators. */
  path: string;
  data: Uint8Array;
}

function octal(value: number, width: number): string {
  // width includes the terminating NUL.
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function splitName(p: string): { name: string; prefix: string } {
  if (Buffer.byteLength(p) <= 100) return { name: p, prefix: '' };
  // ustar: a path longer than 100 bytes is split at a '/' into prefix (≤ 155) and name (≤ 100).
  for (let i = p.lastIndexOf('/'); i > 0; i = p.lastIndexOf('/', i - 1)) {
    const prefix = p.slice(0, i);
    const name = p.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new Error(`path too long for a tar entry: ${p}`);
}

function header(entry: TarEntry): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { name, prefix } = splitName(entry.path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(0o644, 8), 100, 'ascii'); // mode
  h.write(octal(0, 8), 108, 'ascii'); // uid
  h.write(octal(0, 8), 116, 'ascii'); // gid
  h.write(octal(entry.data.length, 12), 124, 'ascii'); // size
  h.write(octal(0, 12), 136, 'ascii'); // mtime: fixed, so packing twice gives the same bytes
  h.fill(' ', 148, 156); // checksum is computed with its own field as spaces
  h.write('0', 156, 'ascii'); // regular file
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(octal(sum, 7) + ' ', 148, 'ascii');
  return h;
}

/** The tar bytes of `entries` in the order given, ended by two zero blocks. */
export function writeTar(entries: TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry), Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength));
    const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}

/**
 * gzip of the tar at maximum compression. zlib writes mtime 0; the OS byte (which zlib sets by the platform it was
 * built for) is set to 255, "unknown", so the same tar gives the same .tgz on every OS.
 */
export function writeTgz(entries: TarEntry[]): Buffer {
  const gz = gzipSync(writeTar(entries), { level: 9 });
  gz[9] = 255;
  return gz;
}

export class TarError extends Error {}

function readString(b: Buffer, start: number, length: number): string {
  const raw = b.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('utf8');
}

function readOctal(b: Buffer, start: number, length: number, what: string): number {
  const text = readString(b, start, length).trim();
  if (!/^[0-7]+$/.test(text)) throw new TarError(`${what} is not an octal number`);
  return parseInt(text, 8);
}

/** A relative path without '..', '.', empty or absolute parts: nothing an archive can use to point elsewhere. */
export function isSafeRelativePath(p: string): boolean {
  if (!p || p.startsWith('/') || p.includes('\\') || p.includes('\0')) return false;
  return p.split('/').every((part) => part !== '' && part !== '.' && part !== '..');
}

/** Entries of a tar (regular files only); throws TarError on anything else or any inconsistency. */
export function readTar(tar: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let at = 0;
  for (;;) {
    if (at + BLOCK > tar.length) throw new TarError('archive ends without its end-of-archive blocks');
    const h = tar.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) break;
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i]!;
    if (readOctal(h, 148, 8, `header at byte ${at}: checksum`) !== sum) throw new TarError(`header at byte ${at}: checksum mismatch`);
    const name = readString(h, 0, 100);
    const prefix = readString(h, 345, 155);
    const p = prefix ? `${prefix}/${name}` : name;
    const type = String.fromCharCode(h[156]!);
    if (type !== '0' && type !== '\0') throw new TarError(`${p}: not a regular file (type '${type}')`);
    if (!isSafeRelativePath(p)) throw new TarError(`${JSON.stringify(p)}: not a plain relative path`);
    const size = readOctal(h, 124, 12, `${p}: size`);
    const start = at + BLOCK;
    if (start + size > tar.length) throw new TarError(`${p}: ${size} bytes declared, the archive ends before`);
    entries.push({ path: p, data: tar.subarray(start, start + size) });
    at = start + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}

/** Entries of a .tgz; a corrupt gzip stream (its CRC covers every byte) is a TarError. */
export function readTgz(tgz: Buffer, maxBytes = 4 * 1024 ** 3): TarEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(tgz, { maxOutputLength: maxBytes });
  } catch (e) {
    throw new TarError(`not a readable gzip stream (${(e as Error).message})`);
  }
  return readTar(tar);
}
