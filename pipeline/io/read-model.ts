/**
 * Reads a TF.js LayersModel (model.json + weight shards) into the IR, treating the files as untrusted input: the
 * manifest is checked and every shard confined, typed and sized before a byte of weights is read
 * (model-files.ts), and every error names the file, manifest entry, layer or weight at fault.
 */
import { createHash } from 'node:crypto';
import { SlimnetError } from '../errors.ts';
import { inferKnownShapes } from '../graph/shapes.ts';
import type { LayerIR, ModelIR, WeightIR, WeightStorage } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import { listModelFiles, readShards } from './model-files.ts';
import { topologyToIR } from './topology.ts';
import { decodeStoredWeight } from './stored-weights.ts';
import { entryByteLength, type ManifestEntry } from './weights.ts';
import { concatTyped } from '../typed-arrays.ts';
import { maskSources } from '../graph/masks.ts';

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
  // The topology is checked before any shard is read.
  topologyToIR(json.modelTopology, modelJsonPath);
  const files = shards.flat();
  const total = groups.reduce((n, g) => n + g.byteLength, 0);
  const hash = createHash('sha256').update(jsonBytes);
  const data = await readShards(files, total, hash);
  const ir = irFromArtifacts(json.modelTopology, groups.flatMap((g) => g.weights), data, modelJsonPath);
  return { ir, files: [modelJsonPath, ...files.map((f) => f.path)], bytes: jsonBytes.length + total, sha256: hash.digest('hex') };
}

/**
 * The largest weight magnitude slimnet accepts: 2^64 ≈ 1.8e19, the square root of float32's largest value. A product
 * of two larger numbers overflows float32, and long before that float32 rounding swamps a layer's sum (the rounding
 * error of a 3.4e38 term is ~2e31), so such a model's outputs depend on summation order and no two runtimes agree
 * on them: the fuzzer's ±3.4e38 weights made the ONNX export "disagree with the model" by 4.9e-3. No trained
 * network comes near this; weights like these are corrupt, or the training diverged.
 */
export const MAX_WEIGHT_MAGNITUDE = 2 ** 64;

/** NaN, ±Infinity or a magnitude past MAX_WEIGHT_MAGNITUDE in a weight: said of the weight, not left for an exporter to look wrong. */
function checkWeightValues(ir: ModelIR, where: string): void {
  for (const layer of ir.layers) {
    for (const w of layer.weights) {
      const i = w.values.findIndex((v) => !(Math.abs(v) <= MAX_WEIGHT_MAGNITUDE));
      if (i < 0) continue;
      const v = w.values[i]!;
      throw new SlimnetError('MODEL_INVALID', `weight "${layer.name}/${w.name}"`,
        Number.isFinite(v) ? `value ${i} is ${v.toPrecision(3)}, past ±1.8e19 where float32 products overflow and runtimes disagree (in ${where})` : `value ${i} is ${v} (in ${where})`,
        'the weights are corrupt or the training diverged; weights must be finite numbers of magnitude at most 2^64');
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
    named.push({ fullName: entry.name, shape: [...entry.shape], ...decodeStoredWeight(entry, bytes) });
  }
  return irFromTopologyAndWeights(topology, named, where);
}

/** The post-read path every model format shares: topology -> IR, then weights attached by name and validated. */
export function irFromTopologyAndWeights(topology: unknown, named: NamedWeightValues[], where: string): ModelIR {
  const ir = topologyToIR(topology, where);
  attachWeights(ir.layers, named, where);
  ir.layers = ir.layers.map((l) => layerClass(l.className)?.completeFromWeights?.(l) ?? l);
  checkLayerWeights(ir, where);
  maskSources(ir); // a mask read by a layer that cannot honour it is refused here, at read
  const order = ir.layers.flatMap((l) => l.weights.map((w) => `${l.name}/${w.name}`));
  const inFile = named.map((w) => w.fullName.replace(/:0$/, ''));
  if (inFile.join('\n') !== order.join('\n')) ir.weightOrder = inFile;
  checkWeightValues(ir, where);
  return ir;
}

/**
 * A weight named `<layer>/<weight>` (a `:0` suffix is ignored), as manifests and Keras files name them, with the
 * storage it was read in (absent: float32).
 */
export interface NamedWeightValues {
  fullName: string;
  shape: number[];
  values: Float32Array;
  storage?: WeightStorage;
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
    if (w.storage) weight.storage = w.storage;
    if (layer.weights.some((x) => x.name === weight.name)) {
      throw new SlimnetError('MODEL_INVALID', `weight "${w.fullName}"`, `appears twice in the manifest (${where})`, 're-export the model');
    }
    layer.weights.push(weight);
  }
}

/**
 * Every layer of a class slimnet knows must carry exactly the weights its family declares, with the shapes its
 * config and input shapes give (checked wherever the input shapes can be inferred: not past a layer of an unknown
 * class). A model that fails this would fail inside tfjs or onnxruntime instead.
 */
function checkLayerWeights(ir: ModelIR, where: string): void {
  const shapes = inferKnownShapes(ir);
  for (const layer of ir.layers) {
    const cls = layerClass(layer.className);
    const inputs = layer.inputs.map((n) => shapes.get(n));
    if (!cls || !inputs.every((s) => s !== undefined)) continue;
    const expected = cls.weights(layer, inputs as number[][]);
    const have = layer.weights.map((w) => w.name);
    const missing = expected.filter((e) => !have.includes(e.name)).map((e) => e.name);
    const extra = have.filter((n) => !expected.some((e) => e.name === n));
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
        `${layer.className} has no weight named "${extra[0]}" (expected ${expected.map((e) => e.name).join(', ') || 'none'}; ${where})`,
        'the weights manifest does not match the topology; re-export the model',
      );
    }
    for (const e of expected) {
      const w = layer.weights.find((x) => x.name === e.name)!;
      if (w.shape.join() !== e.shape.join()) {
        throw new SlimnetError(
          'MODEL_INVALID',
          `layer "${layer.name}" (${layer.className})`,
          `weight ${e.name} has shape [${w.shape}] in ${where} but the layer needs [${e.shape}] for its input [${inputs[0] ?? ''}]`,
          'the weights do not match the model config (was a layer config edited?); save the model again',
        );
      }
    }
  }
}
