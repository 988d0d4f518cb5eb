/**
 * Tiny models for the pruning tests (beside test/fixtures/models.ts, which has the residual/concat and the
 * Flatten → Dense ones), plus helpers to silence chosen channel classes.
 */
import * as tf from '@tensorflow/tfjs';
import type { ChannelAnalysis } from '../../../pipeline/graph/channel-groups.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { randomizeWeights } from '../../fixtures/models.ts';

/**
 * conv → BN → relu → ZeroPadding → DepthwiseConv2D (multiplier 2) → SeparableConv2D → MaxPool → Flatten →
 * Dense → Dropout → Dense(softmax). Input 10x10x2. (The separable layer keeps multiplier 1: tfjs's
 * SeparableConv2D.getConfig drops depth_multiplier, so other multipliers do not survive a save/load.)
 */
export function depthwiseChain(seed = 5): tf.LayersModel {
  const input = tf.input({ shape: [10, 10, 2], name: 'in' });
  let x = tf.layers.conv2d({ filters: 6, kernelSize: 3, name: 'conv1' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.batchNormalization({ name: 'bn1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.reLU({ name: 'relu1' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.zeroPadding2d({ padding: 1, name: 'pad' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, name: 'dw' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.activation({ activation: 'relu', name: 'act' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.separableConv2d({ filters: 5, kernelSize: 3, activation: 'relu', name: 'sep' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'pool' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 8, activation: 'relu', name: 'fc' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.3, name: 'drop' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }).apply(x) as tf.SymbolicTensor;
  return randomizeWeights(tf.model({ inputs: input, outputs: x, name: 'depthwise_chain' }), seed);
}

/** A residual pair inside the net: conv_a and conv_b feed an Add; a Concatenate with a third conv; Multiply gate. */
export function residualConcat(seed = 6): tf.LayersModel {
  const input = tf.input({ shape: [6, 6, 3], name: 'x' });
  const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', name: 'conv_a' }).apply(input) as tf.SymbolicTensor;
  const bnA = tf.layers.batchNormalization({ name: 'bn_a' }).apply(a) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 4, kernelSize: 1, activation: 'relu', name: 'conv_b' }).apply(input) as tf.SymbolicTensor;
  const add = tf.layers.add({ name: 'add' }).apply([bnA, b]) as tf.SymbolicTensor;
  const c = tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'tanh', name: 'conv_c' }).apply(input) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([add, c]) as tf.SymbolicTensor;
  const gate = tf.layers.conv2d({ filters: 7, kernelSize: 1, activation: 'sigmoid', name: 'gate' }).apply(input) as tf.SymbolicTensor;
  const mul = tf.layers.multiply({ name: 'mul' }).apply([cat, gate]) as tf.SymbolicTensor;
  const d = tf.layers.conv2d({ filters: 5, kernelSize: 3, strides: 2, name: 'conv_d' }).apply(mul) as tf.SymbolicTensor;
  const gap = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(d) as tf.SymbolicTensor;
  const out = tf.layers.dense({ units: 2, name: 'head' }).apply(gap) as tf.SymbolicTensor;
  return randomizeWeights(tf.model({ inputs: input, outputs: out, name: 'residual_concat' }), seed);
}

/**
 * Zeroes every consumer weight that reads the given classes ('in' bindings), so their values reach nothing:
 * removing them must then leave predictions unchanged. With `all`, the producers' and BatchNormalizations'
 * slices are zeroed too, so magnitude criteria score those classes 0.
 */
export function silenceClasses(ir: ModelIR, analysis: ChannelAnalysis, classes: number[], all = false): void {
  const set = new Set(classes);
  for (const b of analysis.bindings) {
    if (!all && b.role !== 'in') continue;
    if (/moving_/.test(b.weight)) continue;
    const w = ir.layers.find((l) => l.name === b.layer)!.weights.find((x) => x.name === b.weight)!;
    const n = w.shape[b.axis]!;
    const inner = w.shape.slice(b.axis + 1).reduce((p, q) => p * q, 1);
    for (let i = 0; i < w.values.length; i++) if (set.has(b.classes[Math.floor(i / inner) % n]!)) w.values[i] = 0;
  }
}
