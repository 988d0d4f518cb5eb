/**
 * TF.js LayersModel (model.json + weight shards), loaded back with stock @tensorflow/tfjs. Weights are written in
 * the storage they carry in the IR (float32, float16, uint8/uint16 affine), which stock tfjs decodes to exactly
 * the IR's values: a float format — except int8 weights the quantize stage marked with a tfjs shipping format
 * (Int8Storage.tfjs), which tfjs decodes to nearby values: then the artifact is checked as quantised.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { z } from 'zod';
import { layersModelPredictor } from '../evaluate.ts';
import { fileLoadHandler } from '../io/tfjs-file-handler.ts';
import { writeModel } from '../io/write-model.ts';
import type { ExportFormat } from './types.ts';

const options = z.strictObject({});

export const tfjsFormat: ExportFormat<typeof options> = {
  id: 'tfjs',
  description: 'TF.js LayersModel (model.json + shards), checked by loading it with stock @tensorflow/tfjs',
  artifact: 'tfjs/model.json',
  options,
  async write(ir, file) {
    const { files } = await writeModel(ir, path.dirname(file), { stockTfjs: true });
    return { files };
  },
  async coverage(ir) {
    // Stock tfjs deserialises a layer only if its class is registered with tf.serialization.
    const known = tf.serialization.SerializationMap.getMap().classNameMap;
    const unknown = ir.layers.find((l) => !(l.className in known));
    return unknown && `layer "${unknown.name}" (${unknown.className}): @tensorflow/tfjs has no ${unknown.className} layer`;
  },
  async load(file) {
    return layersModelPredictor(await tf.loadLayersModel(fileLoadHandler(file)));
  },
  parity: (ir) => (ir.layers.some((l) => l.weights.some((w) => w.storage?.dtype === 'int8' && w.storage.tfjs))
    ? { kind: 'quantized', why: 'int8 weights shipped as tfjs uint8/uint16/float16' }
    : { kind: 'float' }),
};
