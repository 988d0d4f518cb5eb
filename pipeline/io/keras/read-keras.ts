/**
 * Reads a Keras model — a Keras 3 `.keras` archive or its unzipped folder, or a legacy `.h5` from Keras 2 or 3 —
 * into the IR, through the same post-read path as a TF.js model.json (topology -> IR, weights attached and
 * validated), so every stage and export treats it like any other model. No Python involved.
 */
import { SlimnetError } from '../../errors.ts';
import type { ModelIR } from '../../ir.ts';
import { irFromTopologyAndWeights, type NamedWeightValues } from '../read-model.ts';
import { isObject, type Json, type KerasContext } from './config-values.ts';
import { readKerasFile, readKerasMembers, type DetectedModel } from './container.ts';
import { Hdf5File } from './hdf5.ts';
import { readKeras3Variables } from './keras3-weights.ts';
import { legacyKerasVersion, legacyModelConfig, readLegacyVariables } from './legacy-h5.ts';
import { mapModelConfig, type KerasLayerInfo, type MappedModel } from './model-config.ts';
import { namedWeights, variableCount, type RawVariable } from './variables.ts';

export interface KerasModel {
  ir: ModelIR;
  /** The Keras version that wrote the file, when it says. */
  kerasVersion?: string;
  /** Harmless changes the mapping made (e.g. a training-only regularizer tfjs lacks), one line each. */
  notes: string[];
}

export async function readKerasModel(detected: DetectedModel): Promise<KerasModel> {
  return detected.format === 'keras-h5' ? readLegacyH5(detected.path) : readKerasArchive(detected);
}

function majorOf(version: string | undefined, config: unknown): 2 | 3 {
  const major = version ? Number(/^(\d+)/.exec(version)?.[1]) : NaN;
  if (major === 3) return 3;
  if (major === 1 || major === 2) return 2;
  // No version: Keras 3 wraps every object with its module.
  return JSON.stringify(config).includes('"module":') ? 3 : 2;
}

async function readKerasArchive(detected: DetectedModel): Promise<KerasModel> {
  const where = detected.path;
  const members = await readKerasMembers(detected);
  const configBytes = members.get('config.json');
  if (!configBytes) throw new SlimnetError('MODEL_INVALID', where, 'has no config.json', 'a .keras archive holds config.json, metadata.json and model.weights.h5; save the model again with model.save()');
  const config = parseJson(configBytes, `${where}: config.json`);
  const metadata = members.has('metadata.json') ? parseJson(members.get('metadata.json')!, `${where}: metadata.json`) : {};
  const kerasVersion = typeof metadata.keras_version === 'string' ? metadata.keras_version : undefined;
  const weights = members.get('model.weights.h5');
  if (!weights) {
    const npz = members.has('model.weights.npz');
    throw new SlimnetError('MODEL_INVALID', where, npz ? 'stores its weights as model.weights.npz' : 'has no model.weights.h5',
      npz ? "save the model with Keras's default weights format (h5)" : 'save the model again with model.save()');
  }
  const ctx: KerasContext = { kerasMajor: majorOf(kerasVersion, config), where, notes: [] };
  const mapped = mapModelConfig(config, ctx);
  const h5 = await Hdf5File.open(weights, `${where}${detected.format === 'keras' ? ':' : '/'}model.weights.h5`);
  try {
    const variables = readKeras3Variables(h5, mapped.layers, weightedIn(mapped));
    return { ir: buildIR(mapped, variables, where, h5.where), kerasVersion, notes: ctx.notes };
  } finally {
    h5.close();
  }
}

async function readLegacyH5(where: string): Promise<KerasModel> {
  const h5 = await Hdf5File.open(await readKerasFile(where, 'the .h5 file'), where);
  try {
    const config = legacyModelConfig(h5);
    if (!config) {
      const weightsOnly = h5.kind('/layers') === 'Group' || h5.kind('/vars') === 'Group' || h5.attr('/', 'layer_names') !== undefined;
      throw new SlimnetError('MODEL_INVALID', where, weightsOnly ? 'holds weights only (no model_config): it was written by save_weights()' : 'has no model_config attribute: it is not a Keras model file',
        'save the whole model with model.save("model.keras") or model.save("model.h5")');
    }
    const kerasVersion = legacyKerasVersion(h5);
    const ctx: KerasContext = { kerasMajor: majorOf(kerasVersion, config), where, notes: [] };
    const mapped = mapModelConfig(config, ctx);
    const variables = readLegacyVariables(h5, mapped.layers, weightedIn(mapped));
    return { ir: buildIR(mapped, variables, where, where), kerasVersion, notes: ctx.notes };
  } finally {
    h5.close();
  }
}

function parseJson(bytes: Uint8Array, where: string): Json {
  try {
    const json = JSON.parse(new TextDecoder().decode(bytes)) as unknown;
    if (!isObject(json)) throw new Error('not a JSON object');
    return json;
  } catch (e) {
    throw new SlimnetError('MODEL_INVALID', where, `is not valid JSON (${(e as Error).message})`, 'the .keras file is corrupt; save the model again');
  }
}

/** The mapped class and config of each layer, by name (the topology's own objects, so updates land in it). */
function mappedLayers(mapped: MappedModel): Map<string, { className: string; config: Json }> {
  const layers = (mapped.topology.config as { layers: Array<{ class_name: string; config: Json; name?: string }> }).layers;
  return new Map(layers.map((l) => [(l.name ?? l.config.name) as string, { className: l.class_name, config: l.config }]));
}

function weightedIn(mapped: MappedModel): (layer: KerasLayerInfo) => boolean {
  const byName = mappedLayers(mapped);
  return (layer) => {
    const m = byName.get(layer.name);
    return m !== undefined && variableCount(m.className, m.config, layer.name) > 0;
  };
}

function buildIR(mapped: MappedModel, variables: Map<string, RawVariable[]>, where: string, weightsWhere: string): ModelIR {
  const byName = mappedLayers(mapped);
  const named: NamedWeightValues[] = [];
  for (const [name, m] of byName) named.push(...namedWeights(name, m.className, m.config, variables.get(name) ?? [], weightsWhere));
  // Every weight's shape is checked against its layer's config there (pipeline/layers/: each family declares them).
  return irFromTopologyAndWeights(mapped.topology, named, weightsWhere);
}
