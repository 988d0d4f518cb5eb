/**
 * The one entry point for reading the user's model, whatever its kind (decided by content): a TF.js model.json,
 * a Keras 3 `.keras` archive or unzipped folder, or a legacy Keras `.h5`. Also says what the input was for the
 * report: its format, sha256 and size.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ModelIR } from '../ir.ts';
import { detectModelFormat, type ModelFormat } from './keras/container.ts';
import { readKerasModelBounded } from './keras/bounded-read.ts';
import { readModelSource } from './read-model.ts';
import { serializeModel } from './write-model.ts';

export type { ModelFormat };

export interface LoadedModel {
  ir: ModelIR;
  format: ModelFormat;
  /** sha256 over the input's files (model.json + shards; the .keras/.h5 file; an unzipped .keras's config.json, metadata.json, model.weights.h5). */
  sha256: string;
  /** Bytes of the input's files on disk. */
  fileBytes: number;
  /**
   * Bytes of the model as slimnet's stages measure every model: TF.js model.json + shards. For a TF.js input
   * this is its own size; for a Keras file (whose size includes optimizer state and its own container) it is
   * the size of the same weights written as TF.js, so baseline and stage sizes compare like with like.
   */
  bytes: number;
  kerasVersion?: string;
  notes: string[];
}

const KERAS_FOLDER_FILES = ['config.json', 'metadata.json', 'model.weights.h5'];

export async function loadModel(modelPath: string): Promise<LoadedModel> {
  const detected = detectModelFormat(modelPath);
  if (detected.format === 'tfjs-layers') {
    const { ir, sha256, bytes } = await readModelSource(detected.path);
    return { ir, format: detected.format, sha256, fileBytes: bytes, bytes, notes: [] };
  }
  const { ir, kerasVersion, notes } = await readKerasModelBounded(detected);
  const files = detected.format === 'keras-folder'
    ? KERAS_FOLDER_FILES.map((f) => path.join(detected.path, f)).filter((f) => existsSync(f))
    : [detected.path];
  const hash = createHash('sha256');
  let fileBytes = 0;
  for (const f of files) {
    hash.update(readFileSync(f));
    fileBytes += statSync(f).size;
  }
  return { ir, format: detected.format, sha256: hash.digest('hex'), fileBytes, bytes: tfjsBytes(ir), kerasVersion, notes };
}

/** Bytes writeModel would put on disk for the IR (model.json + shards). */
export function tfjsBytes(ir: ModelIR): number {
  const { modelJson, shards } = serializeModel(ir);
  return Buffer.byteLength(JSON.stringify(modelJson)) + shards.reduce((n, s) => n + s.length, 0);
}
