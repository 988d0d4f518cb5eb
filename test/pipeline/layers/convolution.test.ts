/**
 * The convolution family against tfjs: random Conv2D, DepthwiseConv2D, SeparableConv2D, Conv1D and Conv2DTranspose
 * layers (kernel sizes, strides, 'same'/'valid', dilation, bias, activations, multipliers) — output shapes, params,
 * MACs (written out here), ONNX parity — plus the quantisation axes, the strict config parse and the configs tfjs
 * saves incompletely.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { buildTfjsModel, irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { layerFromKeras } from '../../../pipeline/layers/registry.ts';
import { predictFlat, randomInputs } from '../../fixtures/models.ts';
import { runOnnx, sequentialOf } from '../onnx/helpers.ts';
import { caseTests, checkQuantizationAxis, expectConfigErrors, picker, prod, UNDER, type LayerCase } from './harness.ts';


type Act = 'linear' | 'relu' | 'sigmoid' | 'tanh' | 'relu6' | 'elu' | 'swish';
const ACTIVATIONS: Act[] = ['linear', 'relu', 'sigmoid', 'tanh', 'relu6', 'elu', 'swish'];
const pair = (v: number | number[]): [number, number] => (typeof v === 'number' ? [v, v] : [v[0]!, v[1]!]);

/** A 1×1 conv first on some cases, so the layer under test also meets an NCHW-held input. */
const prefix = (yes: boolean) => (yes ? [tf.layers.conv2d({ filters: 3, kernelSize: 1 })] : []);

function conv2dCases(count: number): LayerCase[] {
  const p = picker(21);
  return Array.from({ length: count }, (_, i) => {
    const kernelSize = p.bool() ? p.int(1, 4) : [p.int(1, 4), p.int(1, 3)];
    const strides = p.pick([1, 2, [1, 2], [2, 1]]);
    const dilationRate = pair(strides).every((s) => s === 1) ? p.pick([1, 2, [2, 1]]) : 1;
    const padding = p.pick(['same', 'valid'] as const);
    const filters = p.int(1, 5);
    const pre = p.bool();
    const inputShape = [p.int(7, 10), p.int(7, 10), p.int(1, 3)];
    const args = { filters, kernelSize, strides, dilationRate, padding, useBias: p.bool(), activation: p.pick(ACTIVATIONS), name: UNDER };
    return {
      name: `conv2d_${i}`,
      inputShape,
      layers: () => [...prefix(pre), tf.layers.conv2d(args as Parameters<typeof tf.layers.conv2d>[0])],
      macs: (inS, out) => prod(out) * prod(pair(kernelSize)) * inS[2]!,
    };
  });
}

function depthwiseCases(count: number): LayerCase[] {
  const p = picker(22);
  return Array.from({ length: count }, (_, i) => {
    const kernelSize = p.bool() ? p.int(1, 4) : [p.int(1, 3), p.int(1, 4)];
    const args = {
      kernelSize, strides: p.pick([1, 2, [2, 1]]), padding: p.pick(['same', 'valid'] as const), depthMultiplier: p.int(1, 3),
      useBias: p.bool(), activation: p.pick(ACTIVATIONS), name: UNDER,
    };
    const pre = p.bool();
    return {
      name: `depthwise_${i}`,
      inputShape: [p.int(6, 9), p.int(6, 9), p.int(1, 3)],
      layers: () => [...prefix(pre), tf.layers.depthwiseConv2d(args as Parameters<typeof tf.layers.depthwiseConv2d>[0])],
      macs: (_in, out) => prod(out) * prod(pair(kernelSize)),
    };
  });
}

function separableCases(count: number): LayerCase[] {
  const p = picker(23);
  return Array.from({ length: count }, (_, i) => {
    const kernelSize = p.bool() ? p.int(1, 3) : [p.int(1, 3), p.int(2, 3)];
    const strides = p.pick([1, 2]);
    const depthMultiplier = p.int(1, 3);
    const filters = p.int(1, 5);
    const args = {
      filters, kernelSize, strides, dilationRate: strides === 1 ? p.pick([1, 2]) : 1, padding: p.pick(['same', 'valid'] as const),
      depthMultiplier, useBias: p.bool(), activation: p.pick(ACTIVATIONS), name: UNDER,
    };
    const pre = p.bool();
    return {
      name: `separable_${i}`,
      inputShape: [p.int(7, 9), p.int(7, 9), p.int(1, 3)],
      layers: () => [...prefix(pre), tf.layers.separableConv2d(args as Parameters<typeof tf.layers.separableConv2d>[0])],
      macs: (inS, out) => out[0]! * out[1]! * inS[2]! * depthMultiplier * (prod(pair(kernelSize)) + filters),
    };
  });
}

function conv1dCases(count: number): LayerCase[] {
  const p = picker(24);
  return Array.from({ length: count }, (_, i) => {
    const kernelSize = p.int(1, 4);
    const strides = p.pick([1, 2]);
    const args = {
      filters: p.int(1, 5), kernelSize, strides, dilationRate: strides === 1 ? p.pick([1, 2]) : 1,
      // (tfjs's Conv1D cannot run 'causal' padding — "not implemented yet" — so that one is checked below without tfjs layers.)
      padding: p.pick(['same', 'valid'] as const), useBias: p.bool(), activation: p.pick(ACTIVATIONS), name: UNDER,
    };
    const pre = p.bool();
    return {
      name: `conv1d_${i}`,
      inputShape: [p.int(8, 12), p.int(1, 3)],
      layers: () => [...(pre ? [tf.layers.dense({ units: 3 })] : []), tf.layers.conv1d(args as Parameters<typeof tf.layers.conv1d>[0])],
      macs: (inS, out) => prod(out) * kernelSize * inS[1]!,
    };
  });
}

function transposeCases(count: number): LayerCase[] {
  const p = picker(25);
  return Array.from({ length: count }, (_, i) => {
    const kernelSize = p.bool() ? p.int(1, 4) : [p.int(1, 4), p.int(2, 3)];
    const args = {
      filters: p.int(1, 4), kernelSize, strides: p.pick([1, 2, [2, 1], 3]), padding: p.pick(['same', 'valid'] as const),
      useBias: p.bool(), activation: p.pick(ACTIVATIONS), name: UNDER,
    };
    const pre = p.bool();
    return {
      name: `transpose_${i}`,
      inputShape: [p.int(3, 6), p.int(3, 6), p.int(1, 3)],
      layers: () => [...prefix(pre), tf.layers.conv2dTranspose(args as Parameters<typeof tf.layers.conv2dTranspose>[0])],
      macs: (inS, out) => prod(inS) * prod(pair(kernelSize)) * out[2]!,
    };
  });
}

/** Geometries TF pads differently from ONNX's defaults, kept by name as regression cases. */
const fixed: LayerCase[] = [
  // Stride 2 'same' on an even size: TF pads 0 top / 1 bottom — the case SAME_LOWER or symmetric pads get wrong.
  { name: 'conv_same_stride2_even', inputShape: [8, 8, 3], layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', name: UNDER })], macs: (i, o) => prod(o) * 9 * i[2]! },
  { name: 'conv_same_kernel4', inputShape: [6, 5, 2], layers: () => [tf.layers.conv2d({ filters: 2, kernelSize: 4, padding: 'same', name: UNDER })], macs: (i, o) => prod(o) * 16 * i[2]! },
  // Channel order c*m+j: a wrong reorder of [kh,kw,C,m] shows up as swapped output channels.
  { name: 'depthwise_m3_stride2', inputShape: [8, 8, 2], layers: () => [tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 3, strides: 2, padding: 'same', name: UNDER })], macs: (_i, o) => prod(o) * 9 },
  // A DCGAN generator's upsampling (TF pads 1 top / 2 bottom: kernel 5, stride 2), and kernel < stride (zero rows between taps).
  { name: 'transpose_k5_s2_same_tanh', inputShape: [4, 4, 3], layers: () => [tf.layers.conv2dTranspose({ filters: 2, kernelSize: 5, strides: 2, padding: 'same', activation: 'tanh', name: UNDER })], macs: (i) => prod(i) * 25 * 2 },
  { name: 'transpose_k2_s3_valid_relu', inputShape: [3, 2, 2], layers: () => [tf.layers.conv2dTranspose({ filters: 3, kernelSize: 2, strides: 3, activation: 'relu', name: UNDER })], macs: (i) => prod(i) * 4 * 3 },
  // Conv chain with a Flatten+Dense head: the transposes between layouts must land in the right places.
  { name: 'conv_chain_head', inputShape: [7, 7, 2], layers: () => [
    tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same', activation: 'elu' }),
    tf.layers.depthwiseConv2d({ kernelSize: 3, strides: 2, padding: 'same', name: UNDER }),
    tf.layers.flatten(),
    tf.layers.dense({ units: 4, activation: 'softmax' }),
  ], macs: (_i, o) => prod(o) * 9 },
];

const cases = [...fixed, ...conv2dCases(8), ...depthwiseCases(6), ...separableCases(6), ...conv1dCases(6), ...transposeCases(6)];
caseTests('convolution', cases);

test('quantisation axes are the output channels: Conv2D 3, DepthwiseConv2D [kh, kw, C·m] 2, separable pointwise 3, Conv1D 2, Conv2DTranspose 2', async () => {
  const linear = { useBias: false, activation: 'linear' as const };
  const models: Array<[tf.LayersModel, string]> = [
    [sequentialOf('q_conv', [5, 5, 2], [tf.layers.conv2d({ filters: 4, kernelSize: 3, ...linear, name: 'q' })]), 'kernel'],
    [sequentialOf('q_dw', [5, 5, 3], [tf.layers.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, ...linear, name: 'q' })]), 'depthwise_kernel'],
    [sequentialOf('q_sep', [5, 5, 2], [tf.layers.separableConv2d({ filters: 3, kernelSize: 3, depthMultiplier: 2, ...linear, name: 'q' })]), 'pointwise_kernel'],
    [sequentialOf('q_c1', [7, 2], [tf.layers.conv1d({ filters: 3, kernelSize: 3, ...linear, name: 'q' })]), 'kernel'],
    [sequentialOf('q_tr', [3, 3, 2], [tf.layers.conv2dTranspose({ filters: 3, kernelSize: 3, strides: 2, ...linear, name: 'q' })]), 'kernel'],
  ];
  for (const [model, weight] of models) {
    await checkQuantizationAxis(await irFromTfjsModel(model), 'q', weight);
    model.dispose();
  }
});

test('a tfjs-saved SeparableConv2D with depth_multiplier 2 (tfjs leaves it out of the config) is completed from its kernel and loads back in tfjs', async () => {
  const model = sequentialOf('sep_m2', [6, 6, 3], [tf.layers.separableConv2d({ filters: 4, kernelSize: 3, depthMultiplier: 2, name: 'sep' })]);
  const ir = await irFromTfjsModel(model);
  const sep = ir.layers.find((l) => l.name === 'sep')!;
  assert.equal(sep.keras.depth_multiplier, 2);
  const back = await buildTfjsModel(ir);
  const x = randomInputs(model, 2);
  assert.deepEqual(await predictFlat(back, x), await predictFlat(model, x));
  tf.dispose(x);
  back.dispose();
  model.dispose();
});

test("Conv1D with 'causal' padding exports as Keras computes it: left-padded by (k − 1)·dilation (reference: tf.pad + tf.conv1d)", async () => {
  for (const [k, d, s] of [[3, 1, 1], [2, 3, 1], [4, 1, 2]] as const) {
    const model = sequentialOf(`causal_${k}_${d}_${s}`, [9, 2], [tf.layers.conv1d({ filters: 3, kernelSize: k, dilationRate: d, strides: s, name: 'c' })]);
    const valid = await irFromTfjsModel(model);
    const conv = valid.layers.find((l) => l.name === 'c')!;
    const ir = { ...valid, layers: valid.layers.map((l) => (l === conv ? layerFromKeras({ ...conv, keras: { ...conv.keras, padding: 'causal' } }) : l)) };
    assert.deepEqual(inferShapes(ir).get('c'), [Math.ceil(9 / s), 3]);
    const x = randomInputs(model, 2);
    const [kernel, bias] = conv.weights.map((w) => tf.tensor(w.values, w.shape));
    const reference = tf.tidy(() => tf.add(tf.conv1d(tf.pad(x[0] as tf.Tensor3D, [[0, 0], [(k - 1) * d, 0], [0, 0]]), kernel as tf.Tensor3D, s, 'valid', 'NWC', d), bias!).dataSync());
    const [onnxOut] = await runOnnx(exportOnnx(ir), x);
    assert.equal(onnxOut!.length, reference.length);
    for (let i = 0; i < reference.length; i++) assert.ok(Math.abs(onnxOut![i]! - reference[i]!) < 1e-5, `${i}`);
    tf.dispose([...x, kernel!, bias!]);
    model.dispose();
  }
});

test('a dilated DepthwiseConv2D (tfjs ignores the dilation) is refused by the export, not exported as Keras would mean it', async () => {
  const model = sequentialOf('dw_dilated', [8, 8, 2], [tf.layers.depthwiseConv2d({ kernelSize: 3, dilationRate: 2, name: 'dw' })]);
  const ir = await irFromTfjsModel(model);
  model.dispose();
  assert.throws(() => exportOnnx(ir), (e: unknown) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && e.where === 'layer "dw" (DepthwiseConv2D)' && /dilation_rate/.test(e.message));
});

test('the config parse is strict: every malformed or unsupported value is one error naming the layer and key', () => {
  const bad: Array<[string, Record<string, unknown>, 'MODEL_INVALID' | 'LAYER_UNSUPPORTED', RegExp]> = [
    ['Conv2D', { filters: 0, kernel_size: 3 }, 'MODEL_INVALID', /config\.filters/],
    ['Conv2D', { filters: 2.5, kernel_size: 3 }, 'MODEL_INVALID', /config\.filters/],
    ['Conv2D', { filters: 2, kernel_size: [3] }, 'MODEL_INVALID', /config\.kernel_size/],
    ['Conv2D', { filters: 2, kernel_size: [3, -1] }, 'MODEL_INVALID', /config\.kernel_size/],
    ['Conv2D', { filters: 2, kernel_size: 3, strides: 'x' }, 'MODEL_INVALID', /config\.strides/],
    ['Conv2D', { filters: 2, kernel_size: 3, padding: 'full' }, 'MODEL_INVALID', /config\.padding/],
    ['Conv2D', { filters: 2, kernel_size: 3, padding: 'causal' }, 'LAYER_UNSUPPORTED', /config\.padding/],
    ['Conv2D', { filters: 2, kernel_size: 3, data_format: 'channels_first' }, 'LAYER_UNSUPPORTED', /config\.data_format/],
    ['Conv2D', { filters: 2, kernel_size: 3, activation: 'gelu_new' }, 'MODEL_INVALID', /config\.activation/],
    ['Conv2D', { filters: 2, kernel_size: 3, use_bias: 'yes' }, 'MODEL_INVALID', /config\.use_bias/],
    ['Conv2D', { filters: 2, kernel_size: 3, strides: 2, dilation_rate: 2 }, 'MODEL_INVALID', /config\.dilation_rate/],
    ['Conv2D', { filters: 2, kernel_size: 3, groups: 2 }, 'LAYER_UNSUPPORTED', /config\.groups/],
    ['Conv2D', { filters: 2, kernel_size: 3, kernel_initializer: { class_name: 'NoSuchInit', config: {} } }, 'MODEL_INVALID', /config\.kernel_initializer/],
    ['Conv2D', { filters: 2, kernel_size: 3, bias_regularizer: { class_name: 'L1L2', config: { l1: Infinity } } }, 'MODEL_INVALID', /config\.bias_regularizer/],
    ['DepthwiseConv2D', { kernel_size: 3, depth_multiplier: 0 }, 'MODEL_INVALID', /config\.depth_multiplier/],
    ['SeparableConv2D', { filters: 2, kernel_size: 3, trainable: 1 }, 'MODEL_INVALID', /config\.trainable/],
    ['Conv2DTranspose', { filters: 2, kernel_size: 3, dilation_rate: 2 }, 'LAYER_UNSUPPORTED', /config\.dilation_rate/],
    ['Conv2DTranspose', { filters: 2, kernel_size: 3, output_padding: [1, 1] }, 'LAYER_UNSUPPORTED', /config\.output_padding/],
    ['Conv1D', { filters: 2, kernel_size: [3, 3] }, 'MODEL_INVALID', /config\.kernel_size/],
    ['Conv1D', { filters: 2, kernel_size: 3, dtype: 'float64' }, 'MODEL_INVALID', /config\.dtype/],
  ];
  expectConfigErrors(bad);
});

