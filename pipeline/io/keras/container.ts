/**
 * What kind of model a path holds, decided by content, never by extension (some `.keras` files are HDF5, and
 * a `.h5` may be anything): a zip archive (Keras 3 `.keras`), an HDF5 file (legacy Keras `.h5`), a folder
 * (an unzipped `.keras`: config.json + model.weights.h5, or a TF.js model folder), or JSON (a TF.js model.json).
 * Also reads the members of a `.keras` archive, with their declared sizes checked before inflating.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { unzipSync } from 'fflate';
import { SlimnetError } from '../../errors.ts';
import { readRegularFile } from '../model-files.ts';

export type ModelFormat = 'tfjs-layers' | 'keras' | 'keras-folder' | 'keras-h5';

export interface DetectedModel {
  format: ModelFormat;
  /** The file to read: model.json for TF.js, the archive, the .h5, or the folder. */
  path: string;
}

const HDF5_MAGIC = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a];
const ZIP_MAGICS = [[0x50, 0x4b, 0x03, 0x04], [0x50, 0x4b, 0x05, 0x06]];
/** HDF5 allows a user block before the superblock; the signature then sits at 512, 1024, 2048, … */
const HDF5_OFFSETS = [0, 512, 1024, 2048, 4096, 8192];

function startsWith(bytes: Uint8Array, magic: number[], at = 0): boolean {
  return magic.every((b, i) => bytes[at + i] === b);
}

function readHead(file: string, n: number): Uint8Array {
  const fd = openSync(file, 'r');
  try {
    const buf = new Uint8Array(n);
    const got = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

export function detectModelFormat(modelPath: string): DetectedModel {
  let stat;
  try {
    stat = statSync(modelPath);
  } catch (e) {
    throw new SlimnetError('MODEL_NOT_FOUND', modelPath, `cannot read the model (${(e as NodeJS.ErrnoException).code ?? e})`,
      'pass a TF.js model.json, a Keras .keras file or folder, or a Keras .h5 file');
  }
  if (stat.isDirectory()) {
    if (existsSync(path.join(modelPath, 'config.json')) && (existsSync(path.join(modelPath, 'model.weights.h5')) || existsSync(path.join(modelPath, 'model.weights.npz')))) {
      return { format: 'keras-folder', path: modelPath };
    }
    if (existsSync(path.join(modelPath, 'model.json'))) return { format: 'tfjs-layers', path: path.join(modelPath, 'model.json') };
    throw new SlimnetError('MODEL_INVALID', modelPath, 'is a folder with neither config.json + model.weights.h5 (an unzipped .keras) nor model.json (TF.js)',
      'pass a TF.js model.json, a Keras .keras file or folder, or a Keras .h5 file');
  }
  if (!stat.isFile()) throw new SlimnetError('MODEL_INVALID', modelPath, 'is not a regular file', 'pass a model file');
  const head = readHead(modelPath, HDF5_OFFSETS[HDF5_OFFSETS.length - 1]! + 8);
  if (ZIP_MAGICS.some((m) => startsWith(head, m))) return { format: 'keras', path: modelPath };
  if (HDF5_OFFSETS.some((o) => startsWith(head, HDF5_MAGIC, o))) return { format: 'keras-h5', path: modelPath };
  const text = new TextDecoder().decode(head.subarray(0, 64)).replace(/^\uFEFF/, '').trimStart();
  if (text.startsWith('{')) return { format: 'tfjs-layers', path: modelPath };
  throw new SlimnetError('MODEL_INVALID', modelPath, 'is neither a TF.js model.json, a Keras .keras archive (zip) nor an HDF5 .h5 file (by its first bytes)',
    'pass the file Keras model.save() or tensorflowjs_converter wrote');
}

/** A Keras file's bytes: a regular file only (a FIFO or device named model.weights.h5 would block or never end). */
export function readKerasFile(file: string, what: string): Promise<Uint8Array> {
  return readRegularFile(file, what, { missing: 'MODEL_NOT_FOUND', invalid: 'MODEL_INVALID' }, 'pass the files Keras model.save() wrote');
}

/** Members of a Keras archive slimnet reads; anything else (assets/, the model card) is left packed. */
const MEMBERS = ['config.json', 'metadata.json', 'model.weights.h5', 'model.weights.npz'];

/**
 * The members of a `.keras` archive (or of its unzipped folder) slimnet needs. An archive's declared sizes are
 * checked against the file's size before anything is inflated, so a zip bomb is an error, not an allocation.
 */
export async function readKerasMembers(detected: DetectedModel): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  if (detected.format === 'keras-folder') {
    for (const name of MEMBERS) {
      const file = path.join(detected.path, name);
      if (existsSync(file)) out.set(name, await readKerasFile(file, `${name} of an unzipped .keras`));
    }
    return out;
  }
  const bytes = await readKerasFile(detected.path, 'the .keras archive');
  const limit = Math.max(bytes.length * 20, 64 << 20);
  let declared = 0;
  try {
    const files = unzipSync(bytes, {
      filter: (f) => {
        const name = f.name.replace(/\\/g, '/').replace(/^\.?\//, '');
        if (!MEMBERS.includes(name)) return false;
        declared += f.originalSize;
        if (declared > limit) throw new SlimnetError('MODEL_INVALID', detected.path, `its members declare ${declared} bytes unpacked, more than a ${bytes.length}-byte archive can hold`, 'the archive is corrupt');
        return true;
      },
    });
    for (const [name, data] of Object.entries(files)) out.set(name.replace(/\\/g, '/').replace(/^\.?\//, ''), data);
  } catch (e) {
    if (e instanceof SlimnetError) throw e;
    throw new SlimnetError('MODEL_INVALID', detected.path, `is not a readable zip archive (${(e as Error).message})`, 'the .keras file is truncated or corrupt; save the model again');
  }
  return out;
}
