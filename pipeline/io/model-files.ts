/** The files that make up a saved TF.js model (model.json + the shards its manifest lists): for hashing and sizing. */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export function listModelFiles(modelJsonPath: string): string[] {
  const json = JSON.parse(readFileSync(modelJsonPath, 'utf8')) as { weightsManifest?: { paths: string[] }[] };
  const shards = (json.weightsManifest ?? []).flatMap((g) => g.paths.map((p) => path.resolve(path.dirname(modelJsonPath), p)));
  return [modelJsonPath, ...shards];
}

/** Bytes on disk of model.json plus its shards: the size a user ships. */
export function modelBytes(modelJsonPath: string): number {
  return listModelFiles(modelJsonPath).reduce((sum, f) => sum + statSync(f).size, 0);
}

export function hashModelFiles(modelJsonPath: string): string {
  const hash = createHash('sha256');
  for (const file of listModelFiles(modelJsonPath)) hash.update(readFileSync(file));
  return hash.digest('hex');
}
