/**
 * A tf.io load handler for model.json files on disk: @tensorflow/tfjs in Node has no file:// handler
 * (only tfjs-node brings one). It does what a user of stock tfjs would: read model.json, read every shard in
 * manifest order, and hand the raw bytes to tfjs, whose own decoding (including dequantisation) then applies.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';

export function fileLoadHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load(): Promise<tf.io.ModelArtifacts> {
      const modelJson = JSON.parse(await readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
      const dir = dirname(modelJsonPath);
      return tf.io.getModelArtifactsForJSON(modelJson, async (manifest) => {
        const buffers: ArrayBuffer[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const bytes = await readFile(resolve(dir, p));
            buffers.push(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
          }
        }
        return [tf.io.getWeightSpecs(manifest), tf.io.concatenateArrayBuffers(buffers)];
      });
    },
  };
}
