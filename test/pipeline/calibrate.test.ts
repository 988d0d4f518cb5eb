/** The activation reader: onnxruntime and tfjs read the same intermediate outputs; tfjs stands in where ONNX cannot. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { openActivationReader, upstreamOf, type ActivationEngine } from '../../pipeline/calibrate.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { isSlimnetError } from '../../pipeline/errors.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../pipeline/ir.ts';
import { createRng } from '../../pipeline/random.ts';
import { functionalResidual, randomizeWeights, sequentialCnn } from '../fixtures/models.ts';
import { modelInputShape } from '../../pipeline/runner.ts';

before(async () => {
  await initEngine('cpu'); // reference float32 kernels for the tfjs side
});

function randomBatch(sampleShape: number[], count: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: count * sampleShape.reduce((a, b) => a * b, 1) }, () => rng.next() * 2 - 1);
}

async function readWith(engine: ActivationEngine, ir: ModelIR, layers: string[], sampleShape: number[]) {
  const reader = await openActivationReader(ir, layers, { engine });
  try {
    // Two batches of different sizes through one reader: the batch dimension is dynamic.
    const first = await reader.read(randomBatch(sampleShape, 3, 1), 3, sampleShape);
    const second = await reader.read(randomBatch(sampleShape, 5, 2), 5, sampleShape);
    return { engine: reader.engine, shapes: reader.sampleShapes, first, second };
  } finally {
    reader.dispose();
  }
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const cases: Array<{ label: string; build: () => tf.LayersModel; layers: (ir: ModelIR) => string[] }> = [
  { label: 'conv, max pool, Flatten, Dense, the input', build: () => sequentialCnn(), layers: (ir) => ['conv', 'pool', 'flatten', 'fc1', ir.inputs[0]!] },
  { label: 'conv before a BN, the BN, residual Add, global pool, the output', build: () => functionalResidual(), layers: () => ['conv_a', 'bn_a', 'residual', 'gap', 'head'] },
];

for (const c of cases) {
  test(`onnxruntime reads what tfjs reads (${c.label}), max |Δ| ≤ 1e-5`, async () => {
    const model = c.build();
    const ir = await irFromTfjsModel(model);
    model.dispose();
    const layers = c.layers(ir);
    const sampleShape = modelInputShape(ir) as number[];
    const shape = sampleShape;
    const tensorsBefore = tf.memory().numTensors;
    const [ort, ref] = [await readWith('ort', ir, layers, shape), await readWith('tfjs', ir, layers, shape)];
    assert.equal(tf.memory().numTensors, tensorsBefore, 'readers must release their tensors');
    assert.equal(ort.engine, 'onnxruntime-node');
    assert.equal(ref.engine, 'tfjs-cpu');
    assert.deepEqual(ort.shapes, ref.shapes);
    for (const name of layers) {
      const per = ref.shapes[name]!.reduce((a, b) => a * b, 1);
      assert.equal(ort.first[name]!.length, 3 * per);
      assert.equal(ort.second[name]!.length, 5 * per);
      for (const part of ['first', 'second'] as const) {
        const diff = maxAbsDiff(ort[part][name]!, ref[part][name]!);
        assert.ok(diff <= 1e-5, `${name} (${part} batch): max |Δ| ${diff}`);
      }
    }
  });
}

test("a layer ONNX export does not cover (LayerNormalization): 'auto' reads on tfjs, 'ort' refuses", async () => {
  const input = tf.input({ shape: [4, 6, 2], name: 'x' });
  const conv = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'conv' }).apply(input) as tf.SymbolicTensor;
  const perm = tf.layers.layerNormalization({ name: 'perm' }).apply(conv) as tf.SymbolicTensor;
  const flat = tf.layers.flatten({ name: 'flat' }).apply(perm) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'out' }).apply(flat) as tf.SymbolicTensor;
  const model = randomizeWeights(tf.model({ inputs: input, outputs: out }), 3);
  const ir = await irFromTfjsModel(model);
  await assert.rejects(openActivationReader(ir, ['perm'], { engine: 'ort' }), (e) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED');

  const x = randomBatch([4, 6, 2], 4, 5);
  const reader = await openActivationReader(ir, ['conv', 'perm'], { engine: 'auto' });
  const got = await reader.read(x, 4, [4, 6, 2]);
  reader.dispose();
  assert.equal(reader.engine, 'tfjs-cpu');
  assert.deepEqual(reader.sampleShapes, { conv: [4, 6, 3], perm: [4, 6, 3] });
  // Reference: the model's own tensors, computed here without the reader.
  const probe = tf.model({ inputs: model.inputs, outputs: [conv, perm] });
  const outs = tf.tidy(() => probe.predict(tf.tensor(x, [4, 4, 6, 2])) as tf.Tensor[]);
  const expected = outs.map((t) => t.dataSync() as Float32Array);
  tf.dispose(outs);
  model.dispose();
  assert.ok(maxAbsDiff(got.conv!, expected[0]!) <= 1e-6);
  assert.ok(maxAbsDiff(got.perm!, expected[1]!) <= 1e-6);

  // Only the part up to the read layers is exported: the LayerNormalization past the conv does not force tfjs.
  const convReader = await openActivationReader(ir, ['conv'], { engine: 'auto' });
  const conv2 = await convReader.read(x, 4, [4, 6, 2]);
  convReader.dispose();
  assert.equal(convReader.engine, 'onnxruntime-node');
  assert.ok(maxAbsDiff(conv2.conv!, expected[0]!) <= 1e-5);
});

test('upstreamOf keeps exactly the layers the read ones depend on, and makes them the outputs', async () => {
  const model = functionalResidual();
  const ir = await irFromTfjsModel(model);
  model.dispose();
  const sub = upstreamOf(ir, ['residual', 'side']);
  assert.deepEqual(sub.layers.map((l) => l.name), ['image', 'conv_a', 'bn_a', 'relu_a', 'proj', 'residual', 'side']);
  assert.deepEqual(sub.outputs, ['residual', 'side']);
  assert.deepEqual(sub.inputs, ir.inputs);
  assert.throws(() => upstreamOf(ir, ['nope']), /no layer "nope"/);
});
