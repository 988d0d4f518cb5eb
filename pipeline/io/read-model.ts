/**
 * Reads a TF.js LayersModel (model.json + weight shards) into the IR, treating the files as untrusted input: the
 * manifest is checked and every shard confined, typed and sized before a byte of weights is read
 * (model-files.ts), and every error names the file, manifest entry, layer or weight at fault.
 */
import { createHash } from 'node:crypto';
import { SlimnetError } from '../errors.ts';
import type { LayerIR, ModelIR, WeightIR } from '../ir.ts';
import { listModelFiles, readShards } from './model-files.ts';
import { topologyToIR } from './topology.ts';
import { decodeEntry, entryByteLength, type ManifestEntry } from './weights.ts';
import { concatTyped } from '../typed-arrays.ts';

/** A model read from disk, with what it was read from: the files, their total size and their sha256. */
export interface ModelSource {
  ir: ModelIR;
  files: string[];
  bytes: number;
  /** sha256 over model.json and its shards, in manifest order. */
  sha256: string;
}

export async function readModel(modelJsonPath: string): Promise<ModelIR> {
  return (await readModelSource(modelJsonPath)).ir;
}

export async function readModelSource(modelJsonPath: string): Promise<ModelSource> {
  const { jsonBytes, json, groups, shards } = await listModelFiles(modelJsonPath);
  if (!json.modelTopology) {
    throw new SlimnetError('MODEL_INVALID', modelJsonPath, 'has no modelTopology', 'expected a TF.js LayersModel model.json (format "layers-model")');
  }
  // The topology is checked before any shard is read.
  topologyToIR(json.modelTopology, modelJsonPath);
  const files = shards.flat();
  const total = groups.reduce((n, g) => n + g.byteLength, 0);
  const hash = createHash('sha256').update(jsonBytes);
  const data = await readShards(files, total, hash);
  const ir = irFromArtifacts(json.modelTopology, groups.flatMap((g) => g.weights), data, modelJsonPath);
  return { ir, files: [modelJsonPath, ...files.map((f) => f.path)], bytes: jsonBytes.length + total, sha256: hash.digest('hex') };
}

/** NaN or ±Infinity in a weight poisons every output; say which weight rather than let an exporter look wrong. */
function checkFiniteWeights(ir: ModelIR, where: string): void {
  for (const layer of ir.layers) {
    for (const w of layer.weights) {
      const i = w.values.findIndex((v) => !Number.isFinite(v));
      if (i >= 0) {
        throw new SlimnetError('MODEL_INVALID', `weight "${layer.name}/${w.name}"`, `value ${i} is ${w.values[i]} (in ${where})`,
          'the weights are corrupt or the training diverged; weights must be finite numbers');
      }
    }
  }
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
  const named: NamedWeightValues[] = [];
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
  return irFromTopologyAndWeights(topology, named, where);
}

/** The post-read path every model format shares: topology -> IR, then weights attached by name and validated. */
export function irFromTopologyAndWeights(topology: unknown, named: NamedWeightValues[], where: string): ModelIR {
  const ir = topologyToIR(topology, where);
  attachWeights(ir.layers, named, where);
  checkFiniteWeights(ir, where);
  return ir;
}

/** A weight named `<layer>/<weight>` (a `:0` suffix is ignored), as manifests and Keras files name them. */
export interface NamedWeightValues {
  fullName: string;
  shape: number[];
  values: Float32Array;
}

function attachWeights(layers: LayerIR[], named: NamedWeightValues[], where: string): void {
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
