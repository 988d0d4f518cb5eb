/**
 * IR <-> tfjs LayersModel, entirely in memory: the IR is serialised to ModelArtifacts and loaded with
 * `tf.loadLayersModel(tf.io.fromMemory(...))`; a model is read back through `model.save(withSaveHandler)`.
 * Weights travel as float32 bytes, so the round trip is bit-exact.
 */
import * as tf from '@tensorflow/tfjs';
import { SlimnetError } from '../errors.ts';
import type { ModelIR } from '../ir.ts';
import { concatBytes, irFromArtifacts } from './read-model.ts';
import { serializeModel } from './write-model.ts';
import type { ManifestEntry } from './weights.ts';

export async function buildTfjsModel(ir: ModelIR): Promise<tf.LayersModel> {
  const { modelJson, shards } = serializeModel(ir, { shardBytes: Number.MAX_SAFE_INTEGER });
  const weightSpecs = modelJson.weightsManifest.flatMap((g) => g.weights) as tf.io.WeightsManifestEntry[];
  const weightData = concatBytes(shards.length > 0 ? shards : [new Uint8Array(0)]).slice().buffer;
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: modelJson.modelTopology as unknown as tf.io.ModelArtifacts['modelTopology'],
    format: modelJson.format,
    generatedBy: modelJson.generatedBy,
    convertedBy: modelJson.convertedBy,
    weightSpecs,
    weightData,
  };
  try {
    return await tf.loadLayersModel(tf.io.fromMemory(artifacts));
  } catch (e) {
    throw asLayerError(e, ir);
  }
}

/** tfjs reports an unregistered class as "Unknown layer: X"; say which of the user's layers that is. */
function asLayerError(e: unknown, ir: ModelIR): unknown {
  const match = /Unknown layer: (\w+)/.exec(String((e as Error)?.message ?? e));
  if (!match) return e;
  const layer = ir.layers.find((l) => l.className === match[1]);
  return new SlimnetError(
    'LAYER_UNSUPPORTED',
    layer ? `layer "${layer.name}"` : `class ${match[1]}`,
    `tfjs has no layer class ${match[1]}`,
    'only layers built into @tensorflow/tfjs can be loaded; custom layers are not supported',
  );
}

export async function irFromTfjsModel(model: tf.LayersModel): Promise<ModelIR> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('model.save() did not call the save handler');
  const data = saved.weightData;
  const buffers = data === undefined ? [] : Array.isArray(data) ? data : [data];
  return irFromArtifacts(
    saved.modelTopology,
    (saved.weightSpecs ?? []) as ManifestEntry[],
    concatBytes(buffers.length > 0 ? buffers.map((b) => new Uint8Array(b)) : [new Uint8Array(0)]),
    `tfjs model "${model.name}"`,
  );
}
