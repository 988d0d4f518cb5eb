/**
 * A tf.io load handler for model.json files on disk: @tensorflow/tfjs in Node has no file:// handler
 * (only tfjs-node brings one). It does what a user of stock tfjs would: read model.json, read every shard in
 * manifest order, and hand the raw bytes to tfjs, whose own decoding (including dequantisation) then applies.
 * Shards are opened the way slimnet opens any model (model-files.ts): confined to the folder, sizes checked first.
 */
import * as tf from '@tensorflow/tfjs';
import { listModelFiles, readShards } from './model-files.ts';

export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const { json, groups, shards } = await listModelFiles(modelJsonPath);
      return tf.io.getModelArtifactsForJSON(json as unknown as tf.io.ModelJSON, async (manifest) => {
        const data = await readShards(shards.flat(), groups.reduce((n, g) => n + g.byteLength, 0));
        return [tf.io.getWeightSpecs(manifest), data.buffer as ArrayBuffer];
      });
    },
  };
}
