// Runs a slimnet TF.js export in Node with stock @tensorflow/tfjs — no tfjs-node needed. Stock tfjs has no
// file:// loader in Node (`tf.loadLayersModel('file://…')` fails without tfjs-node), so this reads model.json and
// its weight shards itself and hands them to tfjs.
//
//   node tfjs-node.mjs <artifacts/run/export/tfjs/model.json> <input.json>
//
// input.json: one sample, already scaled as report.json's `signature.inputs[0].scaling` says, as a flat array in
// the model's layout (NHWC for images). Prints the output row and the predicted class.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';

export async function loadLayersModelFromFile(modelJsonPath) {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8'));
  const dir = path.dirname(modelJsonPath);
  return tf.loadLayersModel({
    load: () =>
      tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const shards = await Promise.all(manifest.flatMap((group) => group.paths).map((p) => readFile(path.join(dir, p))));
        const bytes = Buffer.concat(shards);
        const weightData = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
        return [tf.io.getWeightSpecs(manifest), weightData];
      }),
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [modelJson, inputJson] = process.argv.slice(2);
  const model = await loadLayersModelFromFile(modelJson);
  const shape = [1, ...model.inputs[0].shape.slice(1)];
  const x = tf.tensor(JSON.parse(await readFile(inputJson, 'utf8')), shape, 'float32');
  const y = await model.predict(x).data();
  const row = Array.from(y);
  console.log(JSON.stringify({ output: row, predictedClass: row.indexOf(Math.max(...row)) }));
}
