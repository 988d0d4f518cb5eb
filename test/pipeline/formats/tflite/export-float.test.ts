/**
 * Float32 TFLite export: every covered layer kind, written to disk, loaded in the real TFLite runtime and compared
 * with tfjs (the bar of the issue: top-1 agreement and max |Δ| ≤ 1e-4); the file's structure (BN folded, ReLU6
 * fused, NHWC float32 edges named like the tfjs model's); unsupported layers named in one-line errors.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../../pipeline/engine.ts';
import { isSlimnetError } from '../../../../pipeline/errors.ts';
import { exportTflite } from '../../../../pipeline/formats/tflite/export.ts';
import { BuiltinOperator, TensorType } from '../../../../pipeline/formats/tflite/model-spec.ts';
import { readTflite } from '../../../../pipeline/formats/tflite/read.ts';
import { irFromTfjsModel } from '../../../../pipeline/io/tfjs-model.ts';
import { depthwiseNet, exampleCnn, functionalResidual, randomizeWeights, sequentialCnn } from '../../../fixtures/models.ts';
import { exportAndCompare, tempDir } from './helpers.ts';
import { activationStack, mergeStack, mobileNetStyle } from './models.ts';
import { needsValidator } from '../../../helpers/validators.ts';

// tfjs's cpu backend is the reference: plain float32 kernels.
before(() => initEngine('cpu'));

const MODELS: Record<string, () => tf.LayersModel> = {
  'a Sequential CNN (fused ReLU, max pooling, flatten, dense, softmax)': sequentialCnn,
  "the example's architecture": exampleCnn,
  'a residual net with BN (folded and not), Add, Concatenate, ELU, global average pooling': functionalResidual,
  'a depthwise net (zero padding, depthwise ×2 stride 2, dilated separable, up-sampling, cropping, average pooling, Dense on 3-D, global max 1-D)': depthwiseNet,
  'a MobileNet-style net (BN + ReLU6 after every conv, padded stride-2 depthwise, average-pool and global-pool heads)': () => mobileNetStyle(),
  'merges of every kind (Multiply, Minimum, Maximum, Average, 3-input Add, Concatenate on H, BN after them)': () => mergeStack(),
  'every mapped activation (sigmoid, tanh, swish, gelu, elu, relu6, leaky ReLU, log-softmax)': () => activationStack(),
};

for (const [what, make] of Object.entries(MODELS)) {
  test(`float32 TFLite reproduces ${what}`, async (t) => {
    if (!needsValidator(t, 'tflite-runtime')) return;
    const { report } = await exportAndCompare(make(), tempDir());
    assert.equal(report.top1Agreement, 1);
    assert.ok(report.maxAbsDiff <= 1e-4, `max |Δ| ${report.maxAbsDiff}`);
  });
}

test('the file folds BN into the convs, fuses ReLU6 into them, and keeps float32 NHWC edges named like the model', async () => {
  const ir = await irFromTfjsModel(mobileNetStyle());
  const model = readTflite(exportTflite(ir));
  const ops = model.graph.operators.map((o) => BuiltinOperator[o.op]);
  assert.deepEqual(ops, [
    'CONV_2D', 'DEPTHWISE_CONV_2D', 'CONV_2D', 'PAD', 'DEPTHWISE_CONV_2D', 'CONV_2D', 'DEPTHWISE_CONV_2D',
    'AVERAGE_POOL_2D', 'RESHAPE', 'MEAN', 'CONCATENATION', 'FULLY_CONNECTED', 'SOFTMAX',
  ]);
  const [input] = model.graph.inputs.map((i) => model.graph.tensors[i]!);
  const [output] = model.graph.outputs.map((i) => model.graph.tensors[i]!);
  assert.deepEqual([input!.name, input!.type, input!.shape, input!.shapeSignature], ['image', TensorType.FLOAT32, [1, 16, 16, 3], [-1, 16, 16, 3]]);
  assert.deepEqual([output!.name, output!.type, output!.shape], ['logits', TensorType.FLOAT32, [1, 4]]);
  // The stem conv's output is the ReLU6 layer's: BN folded in, activation fused.
  assert.ok(model.graph.tensors.some((t) => t.name === 'stem_relu'));
  assert.equal(model.graph.tensors.filter((t) => t.type !== TensorType.FLOAT32 && t.type !== TensorType.INT32).length, 0);
});

test('a layer class TFLite export does not cover fails in one line naming the layer', async () => {
  const m = tf.sequential({ name: 'permuted' });
  m.add(tf.layers.permute({ dims: [2, 1, 3], inputShape: [4, 4, 1], name: 'swap_hw' }));
  m.add(tf.layers.flatten({ name: 'flat' }));
  const ir = await irFromTfjsModel(randomizeWeights(m));
  assert.throws(() => exportTflite(ir), (e: unknown) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' &&
    e.where === 'layer "swap_hw" (Permute)' && /TFLite export does not support Permute layers/.test(e.message) && /supported: .*Conv2D/.test(e.hint ?? ''));
});

test('an activation TFLite has no op for fails naming the layer and the activation', async () => {
  const m = tf.sequential({ name: 'hard' });
  m.add(tf.layers.dense({ units: 2, inputShape: [3], activation: 'hardSigmoid', name: 'gate' }));
  const ir = await irFromTfjsModel(randomizeWeights(m));
  assert.throws(() => exportTflite(ir), (e: unknown) => isSlimnetError(e) && e.where === 'layer "gate" (Dense)' && /activation "hard_sigmoid"/.test(e.message));
});
