// Runs a slimnet ONNX export with onnxruntime-node. The graph takes the same NHWC float32 tensor as the TF.js
// model, under the input layer's name (report.json `signature.inputs[0].name`), with any batch size.
//
//   node onnx-node.mjs <artifacts/run/export/onnx/model.onnx> <input.json>
//
// input.json: one sample, scaled as report.json's `signature.inputs[0].scaling` says, flat, in NHWC order.
// onnxruntime-web in a browser is the same API: `import * as ort from 'onnxruntime-web'`, then
// `await ort.InferenceSession.create('/models/model.onnx')` and the same `session.run`.
import { readFile } from 'node:fs/promises';
import * as ort from 'onnxruntime-node';

const [modelPath, inputJson] = process.argv.slice(2);
const session = await ort.InferenceSession.create(modelPath);
const input = session.inputMetadata[0]; // { name, type: 'float32', shape: ['batch', 28, 28, 1] }
const shape = [1, ...input.shape.slice(1)];
const values = Float32Array.from(JSON.parse(await readFile(inputJson, 'utf8')));
const results = await session.run({ [input.name]: new ort.Tensor('float32', values, shape) });
const row = Array.from(results[session.outputNames[0]].data);
console.log(JSON.stringify({ output: row, predictedClass: row.indexOf(Math.max(...row)) }));
