/**
 * Convolutions as ONNX Conv / ConvTranspose, channels first (NCHW; [N, C, L] for Conv1D). Kernels are reordered
 * from the TF layouts ([kh, kw, in, out], [kh, kw, C, m], [k, in, out], transposed [kh, kw, out, in]) to ONNX's
 * ([out, in/group, kh, kw]; ConvTranspose [in, out, kh, kw]); 'same' and 'causal' padding are spelled out as TF
 * computes them.
 */
import type { LayerIR } from '../../ir.ts';
import type { GraphBuilder, TensorRef } from '../../onnx/builder.ts';
import { requireWeight, unsupportedOption, type LayerConverter, type Produced } from '../../onnx/converter.ts';
import { weightConst } from '../../onnx/weight-const.ts';
import { applyActivation, type ActivationName } from '../activations/functions.ts';
import { samePads, windowPads, type Padding } from '../window.ts';
import type { Conv1DConfig, Conv2DConfig, Conv2DTransposeConfig, DepthwiseConv2DConfig, Pair, SeparableConv2DConfig } from './config.ts';

export interface OnnxConvGeometry {
  kernel: Pair;
  strides: Pair;
  dilations: Pair;
  pads: number[];
}

export function onnxConvGeometry(c: { strides: Pair; padding: Padding }, x: TensorRef, kernel: Pair, dilations: Pair): OnnxConvGeometry {
  const pads = windowPads(c.padding, [x.shape[1] as number, x.shape[2] as number], kernel, c.strides, dilations);
  return { kernel, strides: [...c.strides], dilations, pads };
}

export function conv(
  b: GraphBuilder, hint: string, x: string, weight: string, bias: string | undefined, g: OnnxConvGeometry, group: number,
): string {
  return b.op('Conv', bias ? [x, weight, bias] : [x, weight], {
    kernel_shape: { ints: g.kernel },
    strides: { ints: g.strides },
    dilations: { ints: g.dilations },
    pads: { ints: g.pads },
    group: { i: group },
  }, hint);
}

export function biasConst(b: GraphBuilder, layer: LayerIR<{ useBias: boolean } & LayerIR['config']>): string | undefined {
  if (!layer.config.useBias) return undefined;
  const bias = requireWeight(layer, 'bias');
  return weightConst(b, `${layer.name}/bias`, bias);
}

/** [kh,kw,C,m] → [C*m,1,kh,kw]: output channel c*m+j, the order TF's depthwise conv produces. */
function depthwiseKernel(b: GraphBuilder, layer: LayerIR): { name: string; kernel: Pair; channels: number } {
  const w = requireWeight(layer, 'depthwise_kernel');
  const [kh, kw, c, m] = w.shape as [number, number, number, number];
  const name = weightConst(b, `${layer.name}/depthwise_kernel`, w, { perm: [2, 3, 0, 1], dims: [c * m, 1, kh, kw] });
  return { name, kernel: [kh, kw], channels: c };
}

export function activated(b: GraphBuilder, layer: LayerIR, y: string, activation: ActivationName, rank = 4): Produced {
  return applyActivation(b, layer.name, { name: y, layout: 'nchw', rank }, activation);
}

export const conv2dOnnx: LayerConverter<Conv2DConfig> = ({ b, layer, inputs }) => {
  const x = b.inLayout(inputs[0]!, 'nchw');
  const w = requireWeight(layer, 'kernel');
  const [kh, kw] = w.shape as [number, number, number, number];
  const g = onnxConvGeometry(layer.config, x, [kh, kw], [...layer.config.dilationRate]);
  const weight = weightConst(b, `${layer.name}/kernel`, w, { perm: [3, 2, 0, 1] });
  return activated(b, layer, conv(b, `${layer.name}/conv`, x.name, weight, biasConst(b, layer), g, 1), layer.config.activation);
};

export const depthwiseOnnx: LayerConverter<DepthwiseConv2DConfig> = ({ b, layer, inputs }) => {
  // tfjs's DepthwiseConv2D layer ignores dilation_rate (it passes null; "TODO: Add support for dilation"),
  // so such a model means one thing in Keras and another in tfjs: refuse rather than pick one silently.
  const dilation = layer.config.dilationRate;
  if (dilation[0] !== 1 || dilation[1] !== 1) {
    throw unsupportedOption(layer, `DepthwiseConv2D with dilation_rate [${dilation}]`, 'tfjs ignores dilation in DepthwiseConv2D; use dilation 1 or a SeparableConv2D');
  }
  const x = b.inLayout(inputs[0]!, 'nchw');
  const dw = depthwiseKernel(b, layer);
  const g = onnxConvGeometry(layer.config, x, dw.kernel, [1, 1]);
  return activated(b, layer, conv(b, `${layer.name}/depthwise`, x.name, dw.name, biasConst(b, layer), g, dw.channels), layer.config.activation);
};

/** Depthwise (with the layer's strides, padding, dilation), then a 1x1 pointwise conv carrying the bias. */
export const separableOnnx: LayerConverter<SeparableConv2DConfig> = ({ b, layer, inputs }) => {
  const x = b.inLayout(inputs[0]!, 'nchw');
  const dw = depthwiseKernel(b, layer);
  const g = onnxConvGeometry(layer.config, x, dw.kernel, [...layer.config.dilationRate]);
  const depthwise = conv(b, `${layer.name}/depthwise`, x.name, dw.name, undefined, g, dw.channels);
  const pw = requireWeight(layer, 'pointwise_kernel');
  const pointwiseWeight = weightConst(b, `${layer.name}/pointwise_kernel`, pw, { perm: [3, 2, 0, 1] });
  const unit: OnnxConvGeometry = { kernel: [1, 1], strides: [1, 1], dilations: [1, 1], pads: [0, 0, 0, 0] };
  return activated(b, layer, conv(b, `${layer.name}/pointwise`, depthwise, pointwiseWeight, biasConst(b, layer), unit, 1), layer.config.activation);
};

/** [N, L, C] held as [N, C, L]: Conv with a 1-D kernel [out, in, k]; causal pads (k − 1)·dilation before only. */
export const conv1dOnnx: LayerConverter<Conv1DConfig> = ({ b, layer, inputs }) => {
  const x = b.inLayout(inputs[0]!, 'nchw');
  const w = requireWeight(layer, 'kernel');
  const [k] = w.shape as [number, number, number];
  const { strides: [s], dilationRate: [d], padding } = layer.config;
  const steps = x.shape[1] as number;
  const pads = padding === 'causal' ? [(k - 1) * d, 0] : padding === 'same' ? samePads(steps, k, s, d) : [0, 0];
  const weight = weightConst(b, `${layer.name}/kernel`, w, { perm: [2, 1, 0] });
  const bias = biasConst(b, layer);
  const y = b.op('Conv', bias ? [x.name, weight, bias] : [x.name, weight], {
    kernel_shape: { ints: [k] }, strides: { ints: [s] }, dilations: { ints: [d] }, pads: { ints: pads }, group: { i: 1 },
  }, `${layer.name}/conv`);
  return activated(b, layer, y, layer.config.activation, 3);
};

/**
 * TF's conv2d_transpose (the gradient of a conv2d whose output is this layer's input) as ONNX ConvTranspose. Its
 * full output, (in − 1)·s + k per axis, is cropped as TF's forward conv pads: 'same' keeps in·s from
 * floor((k − s)/2) on, 'valid' keeps in·s + max(k − s, 0) from 0; where k < s both are longer than the full output,
 * and ONNX's output_padding supplies the zero rows TF has there.
 */
export const conv2dTransposeOnnx: LayerConverter<Conv2DTransposeConfig> = ({ b, layer, inputs }) => {
  const x = b.inLayout(inputs[0]!, 'nchw');
  const w = requireWeight(layer, 'kernel');
  const [kh, kw] = w.shape as [number, number, number, number];
  const { strides, padding } = layer.config;
  const axis = (k: number, s: number) => {
    const overlap = Math.max(k - s, 0);
    const before = padding === 'same' ? Math.floor(overlap / 2) : 0;
    return { before, after: padding === 'same' ? overlap - before : 0, extra: Math.max(s - k, 0) };
  };
  const [h, v] = [axis(kh, strides[0]), axis(kw, strides[1])];
  const weight = weightConst(b, `${layer.name}/kernel`, w, { perm: [3, 2, 0, 1] });
  const bias = biasConst(b, layer);
  const y = b.op('ConvTranspose', bias ? [x.name, weight, bias] : [x.name, weight], {
    kernel_shape: { ints: [kh, kw] }, strides: { ints: [...strides] }, dilations: { ints: [1, 1] },
    pads: { ints: [h.before, v.before, h.after, v.after] }, output_padding: { ints: [h.extra, v.extra] }, group: { i: 1 },
  }, `${layer.name}/conv_transpose`);
  return activated(b, layer, y, layer.config.activation);
};
