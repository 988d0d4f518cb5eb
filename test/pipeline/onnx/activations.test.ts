/** Activations, fused into Dense/Conv and as layers, including softmax over the channel axis of an NCHW tensor. */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { ACTIVATION_NAMES as SUPPORTED_ACTIVATIONS } from '../../../pipeline/layers/activations/names.ts';
import { exportAndCompare, meetsParity, runOnnxChecker, sequentialOf, tempDir, useReferenceBackend } from './helpers.ts';

const dir = tempDir();
const written: string[] = [];
before(useReferenceBackend);

type Identifier = Parameters<typeof tf.layers.dense>[0]['activation'];

async function expectParity(model: tf.LayersModel): Promise<void> {
  // Scale inputs up a little via the seed's [-1, 1] range: enough to reach the non-linear parts.
  const { reports, path } = await exportAndCompare(model, dir, { batch: 4 });
  written.push(path);
  assert.ok(meetsParity(reports), JSON.stringify(reports));
}

for (const activation of SUPPORTED_ACTIVATIONS) {
  test(`Dense with activation ${activation} matches tfjs`, async () => {
    // tfjs's API takes camelCase identifiers; model.json stores them snake_cased, which is what the IR sees.
    const identifier = activation.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
    const model = sequentialOf(`dense_${activation}`, [6], [tf.layers.dense({ units: 5, activation: identifier as Identifier })]);
    await expectParity(model);
  });
}

test('Conv2D with softmax activation normalizes over channels (axis 1 in NCHW)', async () => {
  await expectParity(sequentialOf('conv_softmax', [5, 4, 2], [tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: 'softmax' })]));
});

test('Conv2D with log_softmax then Flatten', async () => {
  await expectParity(sequentialOf('conv_log_softmax', [4, 4, 2], [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'logSoftmax' as Identifier }),
    tf.layers.flatten(),
  ]));
});

test('activation layers after a conv (NCHW tensors): ReLU max_value, LeakyReLU, ELU, ThresholdedReLU, Activation', async () => {
  await expectParity(sequentialOf('act_layers', [6, 6, 2], [
    tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }),
    tf.layers.leakyReLU({ alpha: 0.2 }),
    tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
    tf.layers.reLU({ maxValue: 0.3 }),
    tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
    tf.layers.elu(),
    tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
    tf.layers.thresholdedReLU({ theta: 0.05 }),
    tf.layers.conv2d({ filters: 4, kernelSize: 1 }),
    tf.layers.activation({ activation: 'hardSigmoid' }),
    tf.layers.conv2d({ filters: 3, kernelSize: 1 }),
    tf.layers.reLU(),
  ], 5));
});

// tfjs only runs softmax on the last axis (it throws for others), so that is all there is to match.
test('Softmax layer with axis -1 on a 4-D (NCHW-held) tensor', async () => {
  await expectParity(sequentialOf('softmax_4d', [4, 5, 3], [tf.layers.conv2d({ filters: 3, kernelSize: 1 }), tf.layers.softmax({ axis: -1 })]));
});

test('Softmax layer with its default axis (1) on a 2-D tensor', async () => {
  await expectParity(sequentialOf('softmax_2d', [7], [tf.layers.dense({ units: 4 }), tf.layers.softmax()]));
});

test('every exported activation model passes onnx.checker (full_check)', (t) => {
  assert.equal(written.length, SUPPORTED_ACTIVATIONS.length + 5);
  const result = runOnnxChecker(t, written);
  if (result) assert.ok(result.ok, result.output);
});
