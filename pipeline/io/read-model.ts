/**
 * Reads a TF.js LayersModel (model.json + weight shards) into the IR, validating everything a user could get
 * wrong (missing/short shards, weights that belong to no layer, layers missing weights) with errors that name
 * the file, shard, layer or weight at fault.
 */
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SlimnetError } from '../errors.ts';
import type { LayerIR, ModelIR, WeightIR } from '../ir.ts';
import { topologyToIR } from './topology.ts';
import { decodeEntry, entryByteLength, type ManifestEntry, type ManifestGroup } from './weights.ts';
import { concatTyped } from '../typed-arrays.ts';

export async function readModel(modelJsonPath: string): Promise<ModelIR> {
  const modelJson = await readModelJson(modelJsonPath);
  const groups = modelJson.weightsManifest;
  const dir = dirname(modelJsonPath);
  const specs: ManifestEntry[] = [];
  const chunks: Uint8Array[] = [];
  for (const group of groups) {
    const shards: Array<{ path: string; bytes: Uint8Array }> = [];
    for (const p of group.paths) {
      const shardPath = resolve(dir, p);
      shards.push({ path: shardPath, bytes: await readShard(shardPath) });
    }
    const needed = groupByteLength(group, modelJsonPath);
    const have = shards.reduce((n, s) => n + s.bytes.length, 0);
    if (have < needed) {
      const last = shards[shards.length - 1]?.path ?? modelJsonPath;
      throw new SlimnetError(
        'MODEL_INVALID',
        last,
        `weight shards hold ${have} bytes but the manifest needs ${needed} for ${group.weights.length} weights`,
        'the shard is truncated or belongs to another model; re-export the model',
      );
    }
    // Weights are laid out back to back across a group's shards, so a weight may span two shards.
    chunks.push(concatBytes(shards.map((s) => s.bytes)).subarray(0, needed));
    specs.push(...group.weights);
  }
  return irFromArtifacts(modelJson.modelTopology, specs, concatBytes(chunks), modelJsonPath);
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: ManifestGroup[];
}

async function readModelJson(path: string): Promise<ModelJson> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new SlimnetError('MODEL_NOT_FOUND', path, `cannot read model.json (${(e as NodeJS.ErrnoException).code ?? e})`, 'pass the path of a TF.js model.json');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SlimnetError('MODEL_INVALID', path, `is not valid JSON (${(e as Error).message})`, 'pass the model.json written by model.save() or tensorflowjs_converter');
  }
  if (typeof json !== 'object' || json === null || !('modelTopology' in json) || !json.modelTopology) {
    throw new SlimnetError('MODEL_INVALID', path, 'has no modelTopology', 'expected a TF.js LayersModel model.json (format "layers-model")');
  }
  const manifest = (json as { weightsManifest?: unknown }).weightsManifest ?? [];
  if (!Array.isArray(manifest) || !manifest.every((g) => Array.isArray(g?.paths) && Array.isArray(g?.weights))) {
    throw new SlimnetError('MODEL_INVALID', path, 'weightsManifest is malformed', 'expected [{paths: [...], weights: [...]}]');
  }
  return { modelTopology: json.modelTopology, weightsManifest: manifest as ManifestGroup[] };
}

async function readShard(path: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new SlimnetError('MODEL_NOT_FOUND', path, `cannot read weight shard (${(e as NodeJS.ErrnoException).code ?? e})`, 'keep the .bin files next to model.json');
  }
}

function groupByteLength(group: ManifestGroup, where: string): number {
  let n = 0;
  for (const entry of group.weights) n += checkedByteLength(entry, where);
  return n;
}

function checkedByteLength(entry: ManifestEntry, where: string): number {
  const len = entryByteLength(entry);
  if (typeof len === 'string') throw new SlimnetError('MODEL_INVALID', `weight "${entry.name}"`, `${len} (in ${where})`, 'use float32 weights or the tfjs quantisation formats');
  return len;
}

export function concatBytes(parts: Uint8Array[]): Uint8Array {
  return parts.length === 1 ? parts[0] : concatTyped(parts, Uint8Array);
}

/**
 * Topology + flat weight specs + their concatenated bytes (tfjs ModelArtifacts) -> IR. Used for files and for
 * models saved from tfjs in memory. Optimizer weights (group 'optimizer') are skipped.
 */
export function irFromArtifacts(topology: unknown, specs: ManifestEntry[], data: Uint8Array, where: string): ModelIR {
  const ir = topologyToIR(topology, where);
  const named: Array<{ fullName: string; shape: number[]; values: Float32Array }> = [];
  let offset = 0;
  for (const entry of specs) {
    const len = checkedByteLength(entry, where);
    if (offset + len > data.length) {
      throw new SlimnetError('MODEL_INVALID', `weight "${entry.name}"`, `runs past the end of the weight data (${where})`, 'the shards are truncated; re-export the model');
    }
    const bytes = data.subarray(offset, offset + len);
    offset += len;
    if (entry.group === 'optimizer') continue;
    named.push({ fullName: entry.name, shape: [...entry.shape], values: decodeEntry(entry, bytes) });
  }
  attachWeights(ir.layers, named, where);
  return ir;
}

function attachWeights(layers: LayerIR[], named: Array<{ fullName: string; shape: number[]; values: Float32Array }>, where: string): void {
  // Longest prefix wins, so `conv/kernel` never lands on a layer called `con` (names are `<layer>/<weight>`).
  const names = layers.map((l) => l.name).sort((a, b) => b.length - a.length);
  const byName = new Map(layers.map((l) => [l.name, l]));
  for (const w of named) {
    const base = w.fullName.replace(/:0$/, '');
    const owner = names.find((n) => base.startsWith(`${n}/`));
    if (!owner) {
      throw new SlimnetError('MODEL_INVALID', `weight "${w.fullName}"`, `belongs to no layer of the topology (${where})`, 'weights must be named "<layerName>/<weight>"; the manifest and topology do not match');
    }
    const layer = byName.get(owner)!;
    const weight: WeightIR = { name: base.slice(owner.length + 1), shape: w.shape, values: w.values };
    if (layer.weights.some((x) => x.name === weight.name)) {
      throw new SlimnetError('MODEL_INVALID', `weight "${w.fullName}"`, `appears twice in the manifest (${where})`, 're-export the model');
    }
    layer.weights.push(weight);
  }
  for (const layer of layers) checkLayerWeights(layer, where);
}

/** Weight names a layer class must carry, in tfjs order; undefined for classes whose weights we don't know. */
export function expectedWeightNames(layer: Pick<LayerIR, 'className' | 'config'>): string[] | undefined {
  const c = layer.config;
  const bias = c.use_bias === false ? [] : ['bias'];
  switch (layer.className) {
    case 'Conv1D':
    case 'Conv2D':
    case 'Conv2DTranspose':
    case 'Dense':
      return ['kernel', ...bias];
    case 'DepthwiseConv2D':
      return ['depthwise_kernel', ...bias];
    case 'SeparableConv2D':
      return ['depthwise_kernel', 'pointwise_kernel', ...bias];
    case 'BatchNormalization':
      return [...(c.scale === false ? [] : ['gamma']), ...(c.center === false ? [] : ['beta']), 'moving_mean', 'moving_variance'];
    case 'InputLayer': case 'Activation': case 'ReLU': case 'LeakyReLU': case 'ELU': case 'Softmax':
    case 'Dropout': case 'SpatialDropout2D': case 'MaxPooling2D': case 'AveragePooling2D':
    case 'GlobalAveragePooling2D': case 'GlobalMaxPooling2D': case 'Flatten': case 'Reshape':
    case 'Add': case 'Multiply': case 'Subtract': case 'Average': case 'Maximum': case 'Minimum':
    case 'Concatenate': case 'ZeroPadding2D': case 'Cropping2D': case 'UpSampling2D':
      return [];
    default:
      return undefined;
  }
}

function checkLayerWeights(layer: LayerIR, where: string): void {
  const expected = expectedWeightNames(layer);
  if (!expected) return;
  const have = layer.weights.map((w) => w.name);
  const missing = expected.filter((n) => !have.includes(n));
  const extra = have.filter((n) => !expected.includes(n));
  if (missing.length > 0) {
    throw new SlimnetError(
      'MODEL_INVALID',
      `layer "${layer.name}"`,
      `${layer.className} is missing weight${missing.length > 1 ? 's' : ''} ${missing.join(', ')} in the manifest of ${where}`,
      'the weights manifest does not match the topology; re-export the model',
    );
  }
  if (extra.length > 0) {
    throw new SlimnetError(
      'MODEL_INVALID',
      `weight "${layer.name}/${extra[0]}"`,
      `${layer.className} has no weight named "${extra[0]}" (expected ${expected.join(', ') || 'none'}; ${where})`,
      'the weights manifest does not match the topology; re-export the model',
    );
  }
}
