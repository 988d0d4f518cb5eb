/**
 * Content-addressed stage cache. key = sha256(input model, stage name + options, data fingerprint, seed,
 * evaluation settings, budget, backend, tool build). A hit restores the stage's folder, output model and metrics
 * without running it. Entries are written to a temp folder and renamed, so a crash never leaves a torn entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ModelIR } from './ir.ts';
import { readModel } from './io/read-model.ts';
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

export async function readCache(cacheDir: string, key: string, restoreInto: string): Promise<CacheHit | undefined> {
  const dir = path.join(cacheDir, key);
  if (!existsSync(path.join(dir, ENTRY_FILE))) return undefined;
  const entry = JSON.parse(await readFile(path.join(dir, ENTRY_FILE), 'utf8')) as CacheEntry;
  const ir = await readModel(path.join(dir, IR_DIR, 'model.json'));
  const calibration = path.join(dir, CALIBRATION_FILE);
  if (existsSync(calibration)) ir.calibration = JSON.parse(await readFile(calibration, 'utf8')) as ModelIR['calibration'];
  await cp(path.join(dir, FILES_DIR), restoreInto, { recursive: true });
  return { entry, ir };
}

export async function writeCache(cacheDir: string, key: string, stageDir: string, ir: ModelIR, entry: CacheEntry): Promise<void> {
  const finalDir = path.join(cacheDir, key);
  if (existsSync(finalDir)) return;
  const tmp = path.join(cacheDir, `.tmp-${randomBytes(6).toString('hex')}`);
  try {
    await mkdir(tmp, { recursive: true });
    await cp(stageDir, path.join(tmp, FILES_DIR), { recursive: true });
    await writeModel(ir, path.join(tmp, IR_DIR));
    if (ir.calibration) await writeFile(path.join(tmp, CALIBRATION_FILE), JSON.stringify(ir.calibration));
    await writeFile(path.join(tmp, ENTRY_FILE), JSON.stringify(entry));
    await rename(tmp, finalDir);
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    // Another run may have written the same key meanwhile: that entry is equally valid.
    if (!existsSync(finalDir)) throw e;
  }
}
