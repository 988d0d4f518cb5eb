/**
 * The files of a saved TF.js model (model.json + the shards its manifest lists), opened as untrusted input:
 * shards resolve inside the model's folder after symbolic links are followed; only regular files are opened
 * (a FIFO or device is refused from its fstat, never read, so it cannot block or stream forever); sizes are
 * compared with what the manifest needs before a byte is read; reads are asynchronous and bounded.
 */
import type { Hash } from 'node:crypto';
import { constants, realpathSync, statSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { SlimnetError, type ErrorCode } from '../errors.ts';
import { checkManifest, type CheckedGroup } from './manifest.ts';

/** A model.json beyond this is not a layers-model topology (MobileNet-class ones are ~100 KB). */
export const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;
const READ_CHUNK = 4 * 1024 * 1024;

export interface ShardFile {
  /** As the manifest names it. */
  manifestPath: string;
  /** Absolute, symbolic links resolved. */
  path: string;
  size: number;
}

function describeKind(stats: { isDirectory(): boolean; isFIFO(): boolean; isCharacterDevice(): boolean; isBlockDevice(): boolean; isSocket(): boolean }): string {
  if (stats.isDirectory()) return 'a folder';
  if (stats.isFIFO()) return 'a FIFO (named pipe)';
  if (stats.isCharacterDevice() || stats.isBlockDevice()) return 'a device';
  if (stats.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Opens a regular file for reading without blocking on special files: O_NONBLOCK makes opening a FIFO return at
 * once, and fstat then refuses it. Errors are SlimnetErrors naming `file`.
 */
export async function openRegularFile(file: string, what: string, codes: { missing: ErrorCode; invalid: ErrorCode }, hint: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new SlimnetError(code === 'ENOENT' ? codes.missing : codes.invalid, file, `cannot read ${what} (${code})`, hint);
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    throw new SlimnetError(codes.invalid, file, `${what} is ${describeKind(stats)}`, 'name a regular file');
  }
  return { handle, size: stats.size };
}

/** Reads exactly `length` bytes from `handle` at `position` into `into` at `offset`, in chunks (the loop stays free). */
async function readInto(handle: FileHandle, into: Uint8Array, offset: number, length: number, file: string): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await handle.read(into, offset + done, Math.min(READ_CHUNK, length - done), done);
    if (bytesRead === 0) throw new SlimnetError('MODEL_INVALID', file, `ended after ${done} of ${length} bytes while being read`, 'the file changed while slimnet read it; try again');
    done += bytesRead;
  }
}

/** The whole of a regular file (never a FIFO, device or folder, which could block or never end), read in chunks. */
export async function readRegularFile(file: string, what: string, codes: { missing: ErrorCode; invalid: ErrorCode }, hint: string): Promise<Uint8Array> {
  const { handle, size } = await openRegularFile(file, what, codes, hint);
  try {
    const bytes = new Uint8Array(size);
    await readInto(handle, bytes, 0, size, file);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** The bytes of a model.json: a regular file of at most MAX_MODEL_JSON_BYTES. */
export async function readModelJsonBytes(file: string): Promise<Uint8Array> {
  const { handle, size } = await openRegularFile(file, 'model.json', { missing: 'MODEL_NOT_FOUND', invalid: 'MODEL_INVALID' }, 'pass the path of a TF.js model.json');
  try {
    if (size > MAX_MODEL_JSON_BYTES) {
      throw new SlimnetError('MODEL_INVALID', file, `is ${size} bytes; a TF.js model.json holds the topology only (at most ${MAX_MODEL_JSON_BYTES} bytes)`, 'pass the model.json, not a weight file');
    }
    const bytes = new Uint8Array(size);
    await readInto(handle, bytes, 0, size, file);
    return bytes;
  } finally {
    await handle.close();
  }
}

/** Resolves a (checked) manifest path inside the model's folder, following symbolic links; stats it. */
export function resolveShard(modelJsonPath: string, manifestPath: string): ShardFile {
  const dir = path.dirname(path.resolve(modelJsonPath));
  const shown = path.join(dir, manifestPath);
  let real: string;
  let realDir: string;
  try {
    realDir = realpathSync(dir);
    real = realpathSync(shown);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? String(e);
    throw new SlimnetError(code === 'ENOENT' ? 'MODEL_NOT_FOUND' : 'MODEL_INVALID', shown, `cannot read weight shard (${code})`, 'keep the .bin files next to model.json');
  }
  const rel = path.relative(realDir, real);
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new SlimnetError('MODEL_INVALID', shown, `weight shard "${manifestPath}" is a symbolic link to ${real}, outside the model's folder`,
      "copy the shard into the model's folder; slimnet reads weights only from there");
  }
  const stats = statSync(real);
  if (!stats.isFile()) throw new SlimnetError('MODEL_INVALID', shown, `weight shard "${manifestPath}" is ${describeKind(stats)}`, 'shards must be regular files');
  return { manifestPath, path: real, size: stats.size };
}

/** Every group's shards, resolved and stat'ed; their sizes must add up to exactly what the group's weights need. */
export function resolveShards(modelJsonPath: string, groups: CheckedGroup[]): ShardFile[][] {
  return groups.map((group, g) => {
    const shards = group.paths.map((p) => resolveShard(modelJsonPath, p));
    const have = shards.reduce((n, s) => n + s.size, 0);
    if (have !== group.byteLength) {
      const last = shards[shards.length - 1]?.path ?? modelJsonPath;
      const which = group.paths.length === 1 ? `shard "${group.paths[0]}"` : `shards ${group.paths.map((p) => `"${p}"`).join(', ')}`;
      throw new SlimnetError('MODEL_INVALID', last,
        `weightsManifest[${g}]: ${which} ${group.paths.length === 1 ? 'holds' : 'hold'} ${have} bytes but its ${group.weights.length} weights need exactly ${group.byteLength}`,
        have < group.byteLength ? 'the shard is truncated or belongs to another model; re-export the model' : 'the shard holds more than the manifest describes (another model\'s shard, or a wrong shape); re-export the model');
    }
    return shards;
  });
}

/** Reads the shards (already checked by resolveShards) into one buffer, hashing them as it goes. */
export async function readShards(shards: ShardFile[], total: number, hash?: Hash): Promise<Uint8Array> {
  const out = new Uint8Array(total);
  let offset = 0;
  for (const shard of shards) {
    const { handle, size } = await openRegularFile(shard.path, `weight shard "${shard.manifestPath}"`, { missing: 'MODEL_NOT_FOUND', invalid: 'MODEL_INVALID' }, 'keep the .bin files next to model.json');
    try {
      if (size !== shard.size) throw new SlimnetError('MODEL_INVALID', shard.path, `changed size while being read (${shard.size} → ${size} bytes)`, 'try again');
      await readInto(handle, out, offset, size, shard.path);
      hash?.update(out.subarray(offset, offset + size));
      offset += size;
    } finally {
      await handle.close();
    }
  }
  return out;
}

export interface ModelFiles {
  /** model.json as read, and parsed. */
  jsonBytes: Uint8Array;
  json: Record<string, unknown>;
  groups: CheckedGroup[];
  /** Per manifest group, its shards in order. */
  shards: ShardFile[][];
}

/** Reads and parses model.json, checks it has a topology and a sound manifest, and resolves its shards (no shard is read). */
export async function listModelFiles(modelJsonPath: string): Promise<ModelFiles> {
  const jsonBytes = await readModelJsonBytes(modelJsonPath);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(jsonBytes));
  } catch (e) {
    throw new SlimnetError('MODEL_INVALID', modelJsonPath, `is not valid JSON (${(e as Error).message})`, 'pass the model.json written by model.save() or tensorflowjs_converter');
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new SlimnetError('MODEL_INVALID', modelJsonPath, 'is not a JSON object', 'expected a TF.js LayersModel model.json (format "layers-model")');
  }
  if (!(json as { modelTopology?: unknown }).modelTopology) {
    throw new SlimnetError('MODEL_INVALID', modelJsonPath, 'has no modelTopology', 'expected a TF.js LayersModel model.json (format "layers-model")');
  }
  const groups = checkManifest((json as { weightsManifest?: unknown }).weightsManifest, modelJsonPath);
  return { jsonBytes, json: json as Record<string, unknown>, groups, shards: resolveShards(modelJsonPath, groups) };
}

/** Bytes on disk of model.json plus its shards: the size a user ships. */
export async function modelBytes(modelJsonPath: string): Promise<number> {
  const { jsonBytes, shards } = await listModelFiles(modelJsonPath);
  return jsonBytes.length + shards.flat().reduce((n, s) => n + s.size, 0);
}
