/**
 * exportOnnx's extraOutputs: intermediate layer outputs as extra graph outputs, equal to tfjs's
 * `getLayer(name).output` — NHWC even where the graph holds NCHW, and BN folding never hiding a requested value.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { functionalResidual, randomInputs, sequentialCnn } from '../../fixtures/models.ts';
import { inspectModel, runOnnx, runOnnxChecker, sequentialOf, tempDir, useReferenceBackend } from './helpers.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);

/** tfjs's own intermediate outputs for `names`, flat, in order. */
async function tfjsIntermediates(model: tf.LayersModel, names: string[], x: tf.Tensor): Promise<Float32Array[]> {
  // A Sequential's input layer is not among its layers: take the symbolic input itself.
  const outputOf = (n: string) => model.inputs.find((t) => t.sourceLayer.name === n) ?? (model.getLayer(n).output as tf.SymbolicTensor);
  const probe = tf.model({ inputs: model.inputs, outputs: names.map(outputOf) });
  const out = probe.predict(x);
  const list = Array.isArray(out) ? out : [out];
  const values = await Promise.all(list.map((t) => t.data() as Promise<Float32Array>));
  tf.dispose(list);
  return values;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

/** Exports with `extras`, runs ORT, and asserts every extra output equals tfjs's (max |Δ| ≤ 1e-5). */
async function compareExtras(model: tf.LayersModel, extras: string[], file: string) {
  const ir = await irFromTfjsModel(model);
  const bytes = exportOnnx(ir, { extraOutputs: extras });
  const path = join(dir, `${file}.onnx`);
  writeFileSync(path, bytes);
  written.push(path);
  const [x] = randomInputs(model, 5, 13);
  const graph = inspectModel(bytes).graph;
  const outputs = await runOnnx(bytes, [x]);
  const byName = new Map(graph.output.map((o, i) => [o.name, outputs[i]]));
  const expected = await tfjsIntermediates(model, extras, x);
  x.dispose();
  extras.forEach((name, i) => {
    const actual = byName.get(name);
    assert.ok(actual, `no graph output "${name}"`);
    const diff = maxAbsDiff(actual, expected[i]);
    assert.ok(diff <= 1e-5, `${name}: max |Δ| ${diff}`);
  });
  return { ir, graph };
}

test('conv (NCHW inside, NHWC out), max pooling, Flatten, Dense and the input itself', async () => {
  const model = sequentialCnn();
  const extras = ['conv', 'pool', 'flatten', 'fc1', (await irFromTfjsModel(model)).inputs[0]];
  const { graph } = await compareExtras(model, extras, 'seq_extras');
  // The model's own output first, then the extras in the order asked, each with a dynamic batch.
  assert.deepEqual(graph.output.map((o) => o.name), ['fc2', ...extras]);
  assert.deepEqual(graph.output.find((o) => o.name === 'conv')!.dims, ['batch', 6, 6, 4]);
  assert.deepEqual(graph.output.find((o) => o.name === 'pool')!.dims, ['batch', 3, 3, 4]);
  assert.deepEqual(graph.output.find((o) => o.name === 'fc1')!.dims, ['batch', 8]);
});

test('residual model: a conv whose BN would fold, the BN, the Add, the concat and the global pool', async () => {
  const model = functionalResidual();
  const { graph } = await compareExtras(model, ['conv_a', 'bn_a', 'residual', 'cat', 'gap'], 'residual_extras');
  // Reading conv_a needs its pre-BN value, so bn_a is emitted (Mul + Add) instead of folded away.
  assert.ok(graph.node.some((n) => n.name.startsWith('bn_a/') && n.opType === 'Mul'));
});

test('a folded BN is read as its post-BN value; the producer stays folded when only the BN is asked for', async () => {
  const model = functionalResidual();
  const { graph } = await compareExtras(model, ['bn_a', 'relu_a'], 'residual_bn_only');
  assert.ok(!graph.node.some((n) => n.name.startsWith('bn_a/') && n.opType !== 'Identity'), 'bn_a should still be folded into conv_a');
});

test('BN after Dense: the Dense output is pre-BN, the BN output post-BN', async () => {
  const model = sequentialOf('dense_bn', [6], [
    tf.layers.dense({ units: 5, name: 'fc' }),
    tf.layers.batchNormalization({ name: 'bn' }),
    tf.layers.dense({ units: 3, activation: 'softmax', name: 'head' }),
  ], 5);
  await compareExtras(model, ['fc', 'bn'], 'dense_bn_extras');
});

test('model outputs and repeated names are not duplicated; an unknown layer name is refused', async () => {
  const model = sequentialCnn();
  const ir = await irFromTfjsModel(model);
  const graph = inspectModel(exportOnnx(ir, { extraOutputs: ['fc2', 'fc1', 'fc1'] })).graph;
  assert.deepEqual(graph.output.map((o) => o.name), ['fc2', 'fc1']);
  assert.throws(() => exportOnnx(ir, { extraOutputs: ['nope'] }), /no layer "nope"/);
});

test('every model written here passes onnx.checker (full_check)', (t) => {
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});
