/**
 * tfjs models for the TFLite export tests beyond test/fixtures/models.ts: a MobileNet-style block stack (the
 * pattern Keras-converted mobile nets have), single-input merges, and every activation the export maps.
 * Weights are seeded (randomizeWeights), BN statistics included.
 */
import * as tf from '@tensorflow/tfjs';
import { randomizeWeights } from '../../../fixtures/models.ts';

const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) => layer.apply(x) as tf.SymbolicTensor;

/**
 * MobileNet v1-style: conv-BN-ReLU6 stem, ZeroPadding2D before a stride-2 'valid' depthwise conv, depthwise/
 * pointwise blocks with BN and ReLU6, a 'same' stride-2 depthwise, then AveragePooling2D → Flatten → Dense head
 * and a GlobalAveragePooling branch.
 */
export function mobileNetStyle(seed = 5, inputShape = [16, 16, 3], classes = 4): tf.LayersModel {
  const input = tf.input({ shape: inputShape, name: 'image' });
  let x = apply(tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', useBias: false, name: 'stem' }), input);
  x = apply(tf.layers.batchNormalization({ name: 'stem_bn' }), x);
  x = apply(tf.layers.reLU({ maxValue: 6, name: 'stem_relu' }), x);
  const block = (name: string, filters: number, stride: number) => {
    if (stride === 2) x = apply(tf.layers.zeroPadding2d({ padding: [[0, 1], [0, 1]], name: `${name}_pad` }), x);
    x = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: stride, padding: stride === 2 ? 'valid' : 'same', useBias: false, name: `${name}_dw` }), x);
    x = apply(tf.layers.batchNormalization({ name: `${name}_dw_bn` }), x);
    x = apply(tf.layers.reLU({ maxValue: 6, name: `${name}_dw_relu` }), x);
    x = apply(tf.layers.conv2d({ filters, kernelSize: 1, useBias: false, name: `${name}_pw` }), x);
    x = apply(tf.layers.batchNormalization({ name: `${name}_pw_bn` }), x);
    x = apply(tf.layers.activation({ activation: 'relu6', name: `${name}_pw_relu` }), x);
  };
  block('block1', 16, 1);
  block('block2', 24, 2);
  x = apply(tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', depthMultiplier: 2, activation: 'relu', name: 'dw_same' }), x);
  const pooled = apply(tf.layers.averagePooling2d({ poolSize: 2, name: 'avg' }), x);
  const flat = apply(tf.layers.flatten({ name: 'flatten' }), pooled);
  const gap = apply(tf.layers.globalAveragePooling2d({ name: 'gap' }), x);
  const head = apply(tf.layers.concatenate({ name: 'head_cat' }), [flat, gap]);
  const drop = apply(tf.layers.dropout({ rate: 0.2, name: 'drop' }), head);
  const out = apply(tf.layers.dense({ units: classes, activation: 'softmax', name: 'logits' }), drop);
  return randomizeWeights(tf.model({ inputs: input, outputs: out, name: 'mobilenet_style' }), seed);
}

/**
 * One input, two conv branches merged every way (tfjs has no Subtract layer): Multiply, Minimum, Maximum,
 * Average (3 inputs), Add (3 inputs), Concatenate on the height axis; a BN after the Concatenate (nothing to fold into), 'same' max pooling,
 * a global max pool, a Dense with ReLU followed by a BN (not foldable: the Dense is activated), a Softmax layer.
 */
export function mergeStack(seed = 6): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 2], name: 'x' });
  const a = apply(tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', name: 'a' }), input);
  const b = apply(tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'b' }), input);
  const mul = apply(tf.layers.multiply({ name: 'mul' }), [a, b]);
  const min = apply(tf.layers.minimum({ name: 'min' }), [a, b]);
  const max = apply(tf.layers.maximum({ name: 'max' }), [mul, min]);
  const avg = apply(tf.layers.average({ name: 'avg' }), [max, a, b]);
  const add = apply(tf.layers.add({ name: 'add3' }), [avg, a, min]);
  const cat = apply(tf.layers.concatenate({ axis: 1, name: 'cat_h' }), [add, mul]);
  const bn = apply(tf.layers.batchNormalization({ name: 'cat_bn' }), cat);
  const pool = apply(tf.layers.maxPooling2d({ poolSize: [3, 2], padding: 'same', name: 'mp' }), bn);
  const gmp = apply(tf.layers.globalMaxPooling2d({ name: 'gmp' }), pool);
  const fc = apply(tf.layers.dense({ units: 5, activation: 'relu', name: 'fc' }), gmp);
  const fcBn = apply(tf.layers.batchNormalization({ name: 'fc_bn' }), fc);
  const out = apply(tf.layers.softmax({ name: 'probs' }), apply(tf.layers.dense({ units: 3, name: 'out' }), fcBn));
  return randomizeWeights(tf.model({ inputs: input, outputs: out, name: 'merge_stack' }), seed);
}

/** Dense layers carrying each activation the export maps, then the activation layers, ending in log-softmax. */
export function activationStack(seed = 7): tf.LayersModel {
  const input = tf.input({ shape: [5], name: 'v' });
  let x = input;
  for (const activation of ['sigmoid', 'tanh', 'swish', 'gelu', 'elu', 'relu6', 'relu', 'linear'] as const) {
    x = apply(tf.layers.dense({ units: 6, activation, name: `fc_${activation}` }), x);
  }
  x = apply(tf.layers.leakyReLU({ alpha: 0.2, name: 'leaky' }), x);
  x = apply(tf.layers.elu({ name: 'elu_layer' }), x);
  x = apply(tf.layers.reLU({ name: 'relu_layer' }), x);
  x = apply(tf.layers.activation({ activation: 'tanh', name: 'tanh_layer' }), x);
  x = apply(tf.layers.dense({ units: 4, activation: 'logSoftmax' as 'softmax', name: 'log_probs' }), x);
  return randomizeWeights(tf.model({ inputs: input, outputs: x, name: 'activation_stack' }), seed);
}

/**
 * A residual net with BN for 28×28×1 digits: conv-BN-ReLU stem, a two-conv residual block (BN before the Add, ReLU
 * after it), max pooling, a stride-2 conv-BN-ReLU concatenated with a 1×1 branch, Flatten, a Dense softmax head.
 */
export function residualDigits(seed = 8): tf.LayersModel {
  const input = tf.input({ shape: [28, 28, 1], name: 'digit' });
  const convBn = (name: string, x: tf.SymbolicTensor, filters: number, strides = 1, relu = true) => {
    let y = apply(tf.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias: false, name }), x);
    y = apply(tf.layers.batchNormalization({ name: `${name}_bn` }), y);
    return relu ? apply(tf.layers.reLU({ name: `${name}_relu` }), y) : y;
  };
  const stem = convBn('stem', input, 12);
  const branch = convBn('res_b', convBn('res_a', stem, 12), 12, 1, false);
  const sum = apply(tf.layers.reLU({ name: 'res_relu' }), apply(tf.layers.add({ name: 'res_add' }), [stem, branch]));
  const pooled = apply(tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }), sum);
  const down = convBn('down', pooled, 24, 2);
  const side = apply(tf.layers.conv2d({ filters: 8, kernelSize: 1, strides: 2, activation: 'relu', name: 'side' }), pooled);
  const cat = apply(tf.layers.concatenate({ name: 'cat' }), [down, side]);
  const flat = apply(tf.layers.flatten({ name: 'flatten' }), cat);
  const out = apply(tf.layers.dense({ units: 10, activation: 'softmax', name: 'probs' }), flat);
  return randomizeWeights(tf.model({ inputs: input, outputs: out, name: 'residual_digits' }), seed);
}
