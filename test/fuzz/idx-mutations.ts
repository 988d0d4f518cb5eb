/**
 * Seeded mutations of the IDX data folder for the fuzz test: header bytes, dimensions, file sizes, labels, swapped
 * files and bytes of the gzip stream as stored. Each edits the case's data folder in place and says what it did.
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { pick } from './json-edits.ts';
import type { CaseFiles, Mutation } from './mutate.ts';

function idxFiles(c: CaseFiles): string[] {
  return readdirSync(c.dataDir).map((n) => path.join(c.dataDir, n));
}

/** The raw IDX bytes of a (possibly gzipped) file, rewritten raw after the edit. */
function editIdx(file: string, edit: (bytes: Buffer) => Buffer): void {
  let bytes = readFileSync(file);
  if (bytes[0] === 0x1f && bytes[1] === 0x8b) bytes = gunzipSync(bytes);
  writeFileSync(file, edit(bytes));
}

export const idxMutations: Record<string, Mutation> = {
  header: (c, rng) => {
    const f = pick(rng, idxFiles(c));
    const at = rng.int(Math.min(16, 4 + 4 * 3));
    const value = pick(rng, [0, 1, 0x08, 0x0d, 0x0e, 0xff, 0x7f, 3, 0x1f]);
    editIdx(f, (b) => ((b[at] = value), b));
    return `${path.basename(f)} header byte ${at} → ${value}`;
  },
  dims: (c, rng) => {
    const f = pick(rng, idxFiles(c));
    let what = '';
    editIdx(f, (b) => {
      const rank = b[3]!;
      const i = rng.int(Math.max(rank, 1));
      const value = pick(rng, [0, 1, 2, 5, 59, 61, 149, 151, 60000, 0x7fffffff, 0xffffffff]);
      if (4 + 4 * i + 4 <= b.length) b.writeUInt32BE(value, 4 + 4 * i);
      what = `${path.basename(f)} dim ${i} → ${value}`;
      return b;
    });
    return what;
  },
  size: (c, rng) => {
    const f = pick(rng, idxFiles(c));
    editIdx(f, (b) => (rng.next() < 0.5 ? b.subarray(0, rng.int(b.length)) : Buffer.concat([b, Buffer.alloc(1 + rng.int(100))])));
    return `${path.basename(f)} resized`;
  },
  labels: (c, rng) => {
    const f = pick(rng, idxFiles(c).filter((n) => n.includes('labels')));
    const value = pick(rng, [3, 9, 255, 128]);
    editIdx(f, (b) => ((b[8 + rng.int(b.length - 8)] = value), b));
    return `a label in ${path.basename(f)} → ${value}`;
  },
  swap: (c, rng) => {
    const files = idxFiles(c);
    const a = pick(rng, files);
    const b = pick(rng, files);
    const [ba, bb] = [readFileSync(a), readFileSync(b)];
    writeFileSync(a, bb);
    writeFileSync(b, ba);
    return `swapped ${path.basename(a)} and ${path.basename(b)}`;
  },
  gzipBytes: (c, rng) => {
    const f = pick(rng, idxFiles(c));
    const bytes = readFileSync(f);
    bytes[rng.int(bytes.length)] ^= 0xff;
    writeFileSync(f, bytes);
    return `a byte of ${path.basename(f)} flipped (as stored)`;
  },
};
