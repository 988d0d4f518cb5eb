/**
 * The weights manifest of a model.json, checked as untrusted input before any shard is opened: its structure,
 * every entry's name, dtype, quantisation and shape, and the bytes each group needs — with overflow-safe arithmetic,
 * so a shape like [100000, 100000, 100000] is refused by arithmetic, not by trying to read 4 PB.
 */
import { SlimnetError } from '../errors.ts';
import { entryByteLength, type ManifestEntry, type ManifestGroup } from './weights.ts';

export interface CheckedGroup extends ManifestGroup {
  /** Bytes the group's weights occupy, back to back across its shards. */
  byteLength: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Parses `weightsManifest` (absent means no weights). `file` is the model.json, named in every error. */
export function checkManifest(raw: unknown, file: string): CheckedGroup[] {
  const invalid = (key: string, message: string, hint = 'the model.json weightsManifest is malformed; re-export the model') =>
    new SlimnetError('MODEL_INVALID', file, `${key}: ${message}`, hint);
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw invalid('weightsManifest', 'is not a list', 'expected [{ paths: [...], weights: [...] }]');
  return raw.map((group, g): CheckedGroup => {
    const at = `weightsManifest[${g}]`;
    if (!isObject(group) || !Array.isArray(group.paths) || !Array.isArray(group.weights)) {
      throw invalid(at, 'is not { paths: [...], weights: [...] }');
    }
    const paths = group.paths.map((p, i) => checkShardPath(p, `${at}.paths[${i}]`, file));
    let byteLength = 0;
    const weights = group.weights.map((entry, i) => {
      const checked = checkEntry(entry, `${at}.weights[${i}]`, file);
      byteLength += checked.byteLength;
      if (!Number.isSafeInteger(byteLength)) throw invalid(`${at}.weights[${i}]`, 'the group\'s weights add up to more bytes than a file can hold');
      return checked.entry;
    });
    if (paths.length === 0 && byteLength > 0) throw invalid(`${at}.paths`, 'is empty but the group has weights');
    return { paths, weights, byteLength };
  });
}

/**
 * A shard path as the manifest gives it: relative, '/'-separated, without '..' — confined to the model's folder
 * before the filesystem is asked anything (symbolic links are checked when the file is opened, see model-files.ts).
 */
function checkShardPath(p: unknown, key: string, file: string): string {
  const bad = (why: string) =>
    new SlimnetError('MODEL_INVALID', file, `${key} ${JSON.stringify(p)} ${why}`, "manifest paths must name files inside the model's folder, e.g. \"group1-shard1of1.bin\"");
  if (typeof p !== 'string' || p.length === 0) throw bad('is not a file name');
  if (p.includes('\0')) throw bad('contains a NUL character');
  if (p.startsWith('/') || p.includes('\\') || /^[A-Za-z]:/.test(p)) throw bad('is not a relative path');
  if (p.split('/').some((segment) => segment === '..')) throw bad("leaves the model's folder (\"..\")");
  return p;
}

function checkEntry(raw: unknown, key: string, file: string): { entry: ManifestEntry; byteLength: number } {
  const name = isObject(raw) && typeof raw.name === 'string' ? raw.name : undefined;
  const bad = (message: string, hint = 'the weights manifest is malformed; re-export the model') =>
    new SlimnetError('MODEL_INVALID', file, `${key}${name !== undefined ? ` "${name}"` : ''}: ${message}`, hint);
  if (!isObject(raw)) throw bad('is not an object');
  if (!name) throw bad('has no name');
  const shape = raw.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
    throw bad(`shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  }
  if (typeof raw.dtype !== 'string') throw bad(`dtype ${JSON.stringify(raw.dtype)} is not a string`, 'use float32 or int32');
  if (raw.group !== undefined && typeof raw.group !== 'string') throw bad('group is not a string');
  const q = raw.quantization;
  if (q !== undefined && q !== null) {
    if (!isObject(q)) throw bad('quantization is not an object');
    for (const k of ['scale', 'min'] as const) {
      if (q[k] !== undefined && !(typeof q[k] === 'number' && Number.isFinite(q[k]))) throw bad(`quantization.${k} ${JSON.stringify(q[k])} is not a finite number`);
    }
  }
  let elements = 1;
  for (const d of shape as number[]) {
    elements *= d;
    if (!Number.isSafeInteger(elements)) throw bad(`shape [${shape.join(', ')}] has more elements than any file can hold`);
  }
  const entry = { ...raw, name, shape: [...(shape as number[])], dtype: raw.dtype } as ManifestEntry;
  if (q === null) delete entry.quantization;
  const len = entryByteLength(entry);
  if (typeof len === 'string') throw bad(len, 'use float32 or int32 weights, or the tfjs quantisation formats (uint8, uint16, float16)');
  if (!Number.isSafeInteger(len)) throw bad(`shape [${shape.join(', ')}] needs more bytes than any file can hold`);
  return { entry, byteLength: len };
}
