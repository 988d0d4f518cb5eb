/**
 * IR -> TF.js LayersModel files (model.json + group1-shardKofN.bin), in the layout tensorflowjs_converter
 * writes, each weight in the storage it carries (float32, float16, uint8/uint16 affine; int8 see stored-weights.ts).
 * Stock `tf.loadLayersModel` reads the result and computes exactly the IR's values.
 */
import { readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { LayerIR, ModelIR, WeightIR } from '../ir.ts';
import { tempPathBeside } from './atomic.ts';
import { registerCleanup } from './pending-cleanup.ts';
import { encodeStoredWeight } from './stored-weights.ts';
import { DEFAULT_KERAS_VERSION, irToTopology } from './topology.ts';
import type { ManifestEntry, ManifestGroup } from './weights.ts';

/** tfjs and tensorflowjs_converter both cut shards at 4 MiB. */
export const DEFAULT_SHARD_BYTES = 4 * 1024 * 1024;

export interface WriteModelOptions {
  shardBytes?: number;
  /** The TF.js export for stock tfjs: int8 weights go out in their `tfjs` shipping format (stored-weights.ts). */
  stockTfjs?: boolean;
}

export interface ModelJson {
  modelTopology: ReturnType<typeof irToTopology>;
  format: 'layers-model';
  generatedBy: string;
  convertedBy: string;
  weightsManifest: ManifestGroup[];
}

let cachedVersion: string | undefined;
export function slimnetVersion(): string {
  if (cachedVersion === undefined) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    cachedVersion = pkg.version;
  }
  return cachedVersion;
}

export function shardFileName(index: number, count: number): string {
  return `group1-shard${index + 1}of${count}.bin`;
}

/** Layer by layer, or in the source manifest's order when the IR kept one (weights it does not list come last). */
function weightsInWriteOrder(ir: ModelIR): { layer: LayerIR; w: WeightIR }[] {
  const all = ir.layers.flatMap((layer) => layer.weights.map((w) => ({ layer, w })));
  if (!ir.weightOrder) return all;
  const rank = new Map(ir.weightOrder.map((name, i) => [name, i]));
  const at = (x: { layer: LayerIR; w: WeightIR }) => rank.get(`${x.layer.name}/${x.w.name}`) ?? rank.size;
  // Array.prototype.sort is stable: unlisted weights keep the layer order among themselves.
  return all.sort((a, b) => at(a) - at(b));
}

/** The model.json object and shard bytes, in memory (what writeModel puts on disk; also used for hashing). */
export function serializeModel(ir: ModelIR, opts: WriteModelOptions = {}): { modelJson: ModelJson; shards: Uint8Array[] } {
  const shardBytes = opts.shardBytes ?? DEFAULT_SHARD_BYTES;
  if (!(shardBytes > 0)) throw new Error(`shardBytes must be positive, got ${shardBytes}`);
  const entries: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const { layer, w } of weightsInWriteOrder(ir)) {
    const name = `${layer.name}/${w.name}`;
    const { bytes, quantization, slimnet } = encodeStoredWeight(w, `weight "${name}"`, { stockTfjs: opts.stockTfjs ?? false });
    const entry: ManifestEntry & { slimnet?: typeof slimnet } = { name, shape: [...w.shape], dtype: 'float32' };
    if (quantization) entry.quantization = quantization;
    if (slimnet) entry.slimnet = slimnet;
    entries.push(entry);
    chunks.push(bytes);
  }
  const total = chunks.reduce((n, c) => n + c.length, 0);
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  // Like the converter: weights are concatenated, then the byte stream is cut into equal shards.
  const shards: Uint8Array[] = [];
  for (let start = 0; start < total; start += shardBytes) shards.push(all.slice(start, Math.min(total, start + shardBytes)));
  const modelJson: ModelJson = {
    modelTopology: irToTopology(ir),
    format: 'layers-model',
    generatedBy: ir.kerasVersion ?? DEFAULT_KERAS_VERSION,
    convertedBy: `slimnet ${slimnetVersion()}`,
    weightsManifest: entries.length === 0 ? [] : [{ paths: shards.map((_, i) => shardFileName(i, shards.length)), weights: entries }],
  };
  return { modelJson, shards };
}

/**
 * Writes model.json and its shards into `dir`. All files are first written to a temp directory beside `dir`,
 * so a failure leaves nothing half-written. A new `dir` appears with one rename; an existing one receives the
 * shards first and model.json last (the file readers open first), then loses the shards its previous model.json
 * listed that the new one does not. Other files in `dir` are left alone.
 */
export async function writeModel(
  ir: ModelIR,
  dir: string,
  opts: WriteModelOptions = {},
): Promise<{ modelJsonPath: string; files: string[]; bytes: number }> {
  const finalDir = resolve(dir);
  const { modelJson, shards } = serializeModel(ir, opts);
  const names = [...shards.map((_, i) => shardFileName(i, shards.length)), 'model.json'];
  const tmp = tempPathBeside(finalDir);
  const done = registerCleanup({ kind: 'remove', path: tmp });
  await mkdir(tmp, { recursive: true });
  try {
    for (let i = 0; i < shards.length; i++) await writeFile(join(tmp, names[i]), shards[i]);
    await writeFile(join(tmp, 'model.json'), JSON.stringify(modelJson));
    if (!(await isDirectory(finalDir))) {
      await rename(tmp, finalDir);
    } else {
      const stale = await shardsListedBy(join(finalDir, 'model.json'));
      for (const name of names) await rename(join(tmp, name), join(finalDir, name));
      for (const old of stale) if (!names.includes(old)) await rm(join(finalDir, old), { force: true });
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    await rm(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    done();
  }
  const files = names.map((n) => join(finalDir, n));
  let bytes = 0;
  for (const f of files) bytes += (await stat(f)).size;
  return { modelJsonPath: join(finalDir, 'model.json'), files, bytes };
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}

/** Plain shard file names (no sub-paths) a previous model.json in the directory refers to. */
async function shardsListedBy(modelJsonPath: string): Promise<string[]> {
  try {
    const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as { weightsManifest?: ManifestGroup[] };
    return (json.weightsManifest ?? []).flatMap((g) => g.paths ?? []).filter((p) => typeof p === 'string' && !/[\\/]/.test(p));
  } catch {
    return [];
  }
}
