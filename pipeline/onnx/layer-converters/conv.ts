/**
 * Conv2D, DepthwiseConv2D and SeparableConv2D as ONNX Conv (NCHW). Kernels are reordered from the
 * TF layouts ([kh,kw,in,out] and [kh,kw,C,m]) to ONNX's [out, in/group, kh, kw].
 */
import type { LayerIR } from '../../ir.ts';
import type { GraphBuilder, TensorRef } from '../builder.ts';
import { applyActivation, fusedActivation } from './activations.ts';
import {
  boolOpt, numberOpt, pairOpt, requireChannelsLast, requireWeight, stringOpt, transposeValues, unsupportedOption,
  type LayerConverter, type Produced,
} from './common.ts';
import { windowPads } from './padding.ts';

interface ConvGeometry {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  pads: number[];
}

function geometry(layer: LayerIR, x: TensorRef, kernel: [number, number]): ConvGeometry {
  requireChannelsLast(layer);
  const strides = pairOpt(layer, 'strides', [1, 1]);
  const dilations = pairOpt(layer, 'dilation_rate', [1, 1]);
  const pads = windowPads(layer, stringOpt(layer, 'padding', 'valid'), x.shape, kernel, strides, dilations);
  return { kernel, strides, dilations, pads };
}

function conv(
  b: GraphBuilder, hint: string, x: string, weight: string, bias: string | undefined, g: ConvGeometry, group: number,
): string {
  return b.op('Conv', bias ? [x, weight, bias] : [x, weight], {
    kernel_shape: { ints: g.kernel },
    strides: { ints: g.strides },
    dilations: { ints: g.dilations },
    pads: { ints: g.pads },
    group: { i: group },
  }, hint);
}

function biasConst(b: GraphBuilder, layer: LayerIR): string | undefined {
  if (!boolOpt(layer, 'use_bias', true)) return undefined;
  const bias = requireWeight(layer, 'bias');
  return b.floatConst(`${layer.name}/bias`, [bias.values.length], bias.values);
}

/** [kh,kw,C,m] → [C*m,1,kh,kw]: output channel c*m+j, the order TF's depthwise conv produces. */
function depthwiseKernel(b: GraphBuilder, layer: LayerIR): { name: string; kernel: [number, number]; channels: number } {
  const w = requireWeight(layer, 'depthwise_kernel');
  const [kh, kw, c, m] = w.shape;
  const values = transposeValues(w.values, w.shape, [2, 3, 0, 1]);
  return { name: b.floatConst(`${layer.name}/depthwise_kernel`, [c * m, 1, kh, kw], values), kernel: [kh, kw], channels: c };
}

function activated(b: GraphBuilder, layer: LayerIR, y: string): Produced {
  return applyActivation(b, layer, { name: y, layout: 'nchw', rank: 4 }, fusedActivation(layer));
}

const conv2d: LayerConverter = ({ b, layer, inputs }) => {
  const groups = numberOpt(layer, 'groups', 1);
  if (groups !== 1) throw unsupportedOption(layer, `grouped convolution (groups ${groups})`, 'use groups 1');
  const x = b.inLayout(inputs[0], 'nchw');
  const w = requireWeight(layer, 'kernel');
  const [kh, kw, cin, cout] = w.shape;
  const g = geometry(layer, x, [kh, kw]);
  const weight = b.floatConst(`${layer.name}/kernel`, [cout, cin, kh, kw], transposeValues(w.values, w.shape, [3, 2, 0, 1]));
  return activated(b, layer, conv(b, `${layer.name}/conv`, x.name, weight, biasConst(b, layer), g, 1));
};

const depthwiseConv2d: LayerConverter = ({ b, layer, inputs }) => {
  // tfjs's DepthwiseConv2D layer ignores dilation_rate (it passes null; "TODO: Add support for dilation"),
  // so such a model means one thing in Keras and another in tfjs: refuse rather than pick one silently.
  const dilation = pairOpt(layer, 'dilation_rate', [1, 1]);
  if (dilation[0] !== 1 || dilation[1] !== 1) {
    throw unsupportedOption(layer, `DepthwiseConv2D with dilation_rate [${dilation}]`, 'tfjs ignores dilation in DepthwiseConv2D; use dilation 1 or a SeparableConv2D');
  }
  const x = b.inLayout(inputs[0], 'nchw');
  const dw = depthwiseKernel(b, layer);
  const g = geometry(layer, x, dw.kernel);
  return activated(b, layer, conv(b, `${layer.name}/depthwise`, x.name, dw.name, biasConst(b, layer), g, dw.channels));
};

/** Depthwise (with the layer's strides, padding, dilation), then a 1x1 pointwise conv carrying the bias. */
const separableConv2d: LayerConverter = ({ b, layer, inputs }) => {
  const x = b.inLayout(inputs[0], 'nchw');
  const dw = depthwiseKernel(b, layer);
  const g = geometry(layer, x, dw.kernel);
  const depthwise = conv(b, `${layer.name}/depthwise`, x.name, dw.name, undefined, g, dw.channels);
  const pw = requireWeight(layer, 'pointwise_kernel');
  const [, , cin, cout] = pw.shape;
  const pointwiseWeight = b.floatConst(`${layer.name}/pointwise_kernel`, [cout, cin, 1, 1], transposeValues(pw.values, pw.shape, [3, 2, 0, 1]));
  const unit: ConvGeometry = { kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0] };
  return activated(b, layer, conv(b, `${layer.name}/pointwise`, depthwise, pointwiseWeight, biasConst(b, layer), unit, 1));
};

export const convConverters: Record<string, LayerConverter> = {
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
};
