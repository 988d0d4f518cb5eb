/**
 * TFLite ops as the exporter emits them, each in both numerics: weights as float32 or per-channel int8 with int32
 * biases, and every int8 output quantised the way the kernel requires (see OutputQuant). Shapes include the batch
 * axis (1). Op versions follow TF's tools/versioning/op_version.cc for exactly the signatures emitted here.
 */
import { BuiltinOperator, TensorType, type FusedActivation, type Padding } from './model-spec.ts';
import type { OpVersions, OutputQuant, OutputSpec, TensorRef, TfliteGraph } from './graph.ts';
import type { Kernel } from './kernels.ts';
import { quantizeBias, quantizePerChannel, quantizePerTensor, type ActivationQuant } from './quantization.ts';

export interface WindowGeometry {
  padding: Padding;
  /** [height, width]. */
  strides: [number, number];
  dilation: [number, number];
}

const V1_2: OpVersions = { float32: 1, int8: 2 };
const V1_1: OpVersions = { float32: 1, int8: 1 };

/** Kernel-fixed int8 output parameters (TFLite's kernels check them). */
export const FIXED_OUTPUT_QUANT = {
  logistic: { scale: 1 / 256, zeroPoint: -128 },
  softmax: { scale: 1 / 256, zeroPoint: -128 },
  tanh: { scale: 1 / 128, zeroPoint: 0 },
  logSoftmax: { scale: 16 / 256, zeroPoint: 127 },
} as const satisfies Record<string, ActivationQuant>;

interface Weights extends Kernel {
  /** Output-channel axis for per-channel int8 scales; undefined: one scale for the whole tensor. */
  channelAxis?: number;
  bias: Float32Array;
}

const bytesOf = (a: Int8Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength).slice();

/** A float model's kernel: dequantised from the codes it is stored in (kernels.ts), else float32 values. */
function floatKernel(g: TfliteGraph, name: string, k: Kernel): number {
  const s = k.stored;
  if (s?.dtype === 'float16') return g.dequantized(name, TensorType.FLOAT16, k.shape, bytesOf(s.codes), undefined, 3);
  if (s?.dtype === 'int8') {
    const quantization = { scale: s.scales, zeroPoint: s.zeroPoints, quantizedDimension: s.axis ?? 0 };
    return g.dequantized(name, TensorType.INT8, k.shape, bytesOf(s.codes), quantization, s.axis === undefined ? 2 : 5);
  }
  return g.floatConstant(name, k.shape, k.values);
}

/**
 * Weight and bias tensors: float32 (weights in their stored form, dequantised in the graph), or int8 (per channel
 * or per tensor, quantised from the float values) with an int32 bias.
 */
function weightTensors(g: TfliteGraph, name: string, x: TensorRef, w: Weights): [number, number] {
  if (!g.int8) return [floatKernel(g, `${name}/kernel`, w), g.floatConstant(`${name}/bias`, [w.bias.length], w.bias)];
  const q = w.channelAxis === undefined ? quantizePerTensor(w.values) : quantizePerChannel(w.values, w.shape, w.channelAxis);
  const weights = g.constant(`${name}/kernel`, TensorType.INT8, w.shape, new Uint8Array(q.values.buffer), {
    scale: q.scales,
    zeroPoint: q.scales.map(() => 0),
    quantizedDimension: w.channelAxis ?? 0,
  });
  const b = quantizeBias(w.bias, x.quant!.scale, q.scales);
  // quantized_dimension 0 always: the full runtime rejects a bias quantised along any other axis.
  const bias = g.constant(`${name}/bias`, TensorType.INT32, [w.bias.length], new Uint8Array(b.values.buffer), {
    scale: b.scales,
    zeroPoint: b.scales.map(() => 0),
    quantizedDimension: 0,
  });
  return [weights, bias];
}

/** CONV_2D: kernel OHWI [out, kh, kw, in], per-output-channel int8 scales (quantized_dimension 0). */
export function conv2d(
  g: TfliteGraph, x: TensorRef, kernel: Kernel, bias: Float32Array, geo: WindowGeometry,
  out: OutputSpec, outShape: number[], activation: FusedActivation = 'none',
): TensorRef {
  const [w, b] = weightTensors(g, out.name, x, { ...kernel, channelAxis: 0, bias });
  const y = g.activation(out, outShape);
  return g.op(BuiltinOperator.CONV_2D, { float32: 1, int8: 3 }, [x.index, w, b], [y],
    { kind: 'conv2d', padding: geo.padding, strides: geo.strides, dilation: geo.dilation, activation })[0]!;
}

/** DEPTHWISE_CONV_2D: kernel [1, kh, kw, C·m], per-channel int8 scales along axis 3. */
export function depthwiseConv2d(
  g: TfliteGraph, x: TensorRef, kernel: Kernel, bias: Float32Array, depthMultiplier: number,
  geo: WindowGeometry, out: OutputSpec, outShape: number[], activation: FusedActivation = 'none',
): TensorRef {
  const [w, b] = weightTensors(g, out.name, x, { ...kernel, channelAxis: 3, bias });
  const y = g.activation(out, outShape);
  const dilated = geo.dilation[0] !== 1 || geo.dilation[1] !== 1;
  return g.op(BuiltinOperator.DEPTHWISE_CONV_2D, { float32: dilated ? 2 : 1, int8: 3 }, [x.index, w, b], [y],
    { kind: 'depthwiseConv2d', padding: geo.padding, strides: geo.strides, dilation: geo.dilation, depthMultiplier, activation })[0]!;
}

/**
 * TRANSPOSE_CONV (tf.nn.conv2d_transpose): weights OHWI [out, kh, kw, in], per-output-channel int8 scales, the output
 * shape as an input (TF 'same'/'valid' padding is derived from it, as Keras's Conv2DTranspose computes it). Version 3
 * (a bias input); no fused activation, which only newer runtimes read.
 */
export function transposeConv2d(
  g: TfliteGraph, x: TensorRef, kernel: Kernel, bias: Float32Array, geo: Omit<WindowGeometry, 'dilation'>, out: OutputSpec, outShape: number[],
): TensorRef {
  const [w, b] = weightTensors(g, out.name, x, { ...kernel, channelAxis: 0, bias });
  const shape = g.int32Constant(`${out.name}/output_shape`, [outShape.length], outShape);
  const y = g.activation(out, outShape);
  return g.op(BuiltinOperator.TRANSPOSE_CONV, { float32: 3, int8: 3 }, [shape, w, x.index, b], [y],
    { kind: 'transposeConv', padding: geo.padding, strides: geo.strides })[0]!;
}

/**
 * FULLY_CONNECTED: weights [out, in]; int8 weights per tensor, the form every TFLite runtime's int8 kernel takes
 * (per-channel fully-connected weights are a recent addition older runtimes reject).
 */
export function fullyConnected(
  g: TfliteGraph, x: TensorRef, kernel: Kernel, bias: Float32Array, out: OutputSpec, outShape: number[],
  activation: FusedActivation = 'none',
): TensorRef {
  const [w, b] = weightTensors(g, out.name, x, { ...kernel, bias });
  const y = g.activation(out, outShape);
  return g.op(BuiltinOperator.FULLY_CONNECTED, { float32: 1, int8: 4 }, [x.index, w, b], [y], { kind: 'fullyConnected', activation })[0]!;
}

/** MAX_POOL_2D / AVERAGE_POOL_2D (TF 'same' semantics: padded cells are ignored). int8 keeps the input's parameters. */
export function pool2d(
  g: TfliteGraph, kind: 'max' | 'average', x: TensorRef, filter: [number, number], geo: Omit<WindowGeometry, 'dilation'>,
  out: OutputSpec, outShape: number[],
): TensorRef {
  const y = g.activation(out, outShape, 'input', x);
  const op = kind === 'max' ? BuiltinOperator.MAX_POOL_2D : BuiltinOperator.AVERAGE_POOL_2D;
  return g.op(op, V1_2, [x.index], [y], { kind: 'pool2d', padding: geo.padding, strides: geo.strides, filter, activation: 'none' })[0]!;
}

/** MEAN (requantises in int8) or REDUCE_MAX (selects, so keeps the input's parameters) over `axes`. */
export function reduce(g: TfliteGraph, kind: 'mean' | 'max', x: TensorRef, axes: number[], out: OutputSpec, outShape: number[]): TensorRef {
  const axesTensor = g.int32Constant(`${out.name}/axes`, [axes.length], axes);
  const y = g.activation(out, outShape, kind === 'mean' ? 'calibrated' : 'input', x);
  const op = kind === 'mean' ? BuiltinOperator.MEAN : BuiltinOperator.REDUCE_MAX;
  return g.op(op, V1_2, [x.index, axesTensor], [y], { kind: 'reducer', keepDims: outShape.length === x.shape.length })[0]!;
}

/** ADD / SUB / MUL (broadcasting; int8 inputs may differ in scale) or MAXIMUM / MINIMUM (selecting: one scale for all). */
export function binary(
  g: TfliteGraph, kind: 'add' | 'sub' | 'mul' | 'maximum' | 'minimum', a: TensorRef, b: TensorRef, out: OutputSpec, outShape: number[],
): TensorRef {
  if (kind === 'maximum' || kind === 'minimum') {
    const y = g.activation(out, outShape);
    const [qa, qb] = [a, b].map((t, i) => (y.quant ? g.requantize(t, y.quant, `${out.name}/input${i}`) : t));
    const op = kind === 'maximum' ? BuiltinOperator.MAXIMUM : BuiltinOperator.MINIMUM;
    return g.op(op, V1_2, [qa!.index, qb!.index], [y], { kind: 'maximumMinimum' })[0]!;
  }
  const y = g.activation(out, outShape);
  const op = { add: BuiltinOperator.ADD, sub: BuiltinOperator.SUB, mul: BuiltinOperator.MUL }[kind];
  // MUL v3: an int8 multiply whose rescale input1·input2/output is ≥ 1 needs the newer kernel path.
  const mulV3 = kind === 'mul' && y.quant && (a.quant!.scale * b.quant!.scale) / y.quant.scale >= 1;
  return g.op(op, { float32: 1, int8: mulV3 ? 3 : 2 }, [a.index, b.index], [y], { kind, activation: 'none' })[0]!;
}

/** CONCATENATION: the int8 kernel needs every input at the output's parameters, so differing inputs are requantised. */
export function concatenation(g: TfliteGraph, xs: TensorRef[], axis: number, out: OutputSpec, outShape: number[]): TensorRef {
  const y = g.activation(out, outShape);
  const inputs = xs.map((x, i) => (y.quant ? g.requantize(x, y.quant, `${out.name}/input${i}`) : x));
  return g.op(BuiltinOperator.CONCATENATION, V1_2, inputs.map((x) => x.index), [y], { kind: 'concatenation', axis, activation: 'none' })[0]!;
}

/** RESHAPE to `outShape`, written with a −1 batch so the model still reshapes correctly at another batch size. */
export function reshape(g: TfliteGraph, x: TensorRef, out: OutputSpec, outShape: number[]): TensorRef {
  const newShape = [-1, ...outShape.slice(1)];
  const shapeTensor = g.int32Constant(`${out.name}/shape`, [newShape.length], newShape);
  const y = g.activation(out, outShape, 'input', x);
  return g.op(BuiltinOperator.RESHAPE, V1_1, [x.index, shapeTensor], [y], { kind: 'reshape', newShape })[0]!;
}

/** PAD with zeros ([before, after] per axis); int8 pads with the zero point, i.e. real 0. */
export function pad(g: TfliteGraph, x: TensorRef, paddings: [number, number][], out: OutputSpec, outShape: number[]): TensorRef {
  const p = g.int32Constant(`${out.name}/paddings`, [paddings.length, 2], paddings.flat());
  const y = g.activation(out, outShape, 'input', x);
  return g.op(BuiltinOperator.PAD, V1_2, [x.index, p], [y], { kind: 'pad' })[0]!;
}

/** SLICE from `begin`, `outShape` long on every axis but the batch (−1: to the end). */
export function slice(g: TfliteGraph, x: TensorRef, begin: number[], out: OutputSpec, outShape: number[]): TensorRef {
  const b = g.int32Constant(`${out.name}/begin`, [begin.length], begin);
  const s = g.int32Constant(`${out.name}/size`, [outShape.length], [-1, ...outShape.slice(1)]);
  const y = g.activation(out, outShape, 'input', x);
  return g.op(BuiltinOperator.SLICE, V1_2, [x.index, b, s], [y])[0]!;
}

/** RESIZE_NEAREST_NEIGHBOR / RESIZE_BILINEAR without corner alignment or half-pixel centres (tfjs's UpSampling2D). */
export function resize(g: TfliteGraph, kind: 'nearest' | 'bilinear', x: TensorRef, out: OutputSpec, outShape: number[]): TensorRef {
  const size = g.int32Constant(`${out.name}/size`, [2], [outShape[1]!, outShape[2]!]);
  const y = g.activation(out, outShape, 'input', x);
  const op = kind === 'nearest' ? BuiltinOperator.RESIZE_NEAREST_NEIGHBOR : BuiltinOperator.RESIZE_BILINEAR;
  return g.op(op, V1_2, [x.index, size], [y], { kind: 'resize', alignCorners: false, halfPixelCenters: false })[0]!;
}

/** CAST of float32 `x` to int32 (truncating toward zero, as tfjs's and ONNX's casts do): indices for GATHER. */
export function castToInt32(g: TfliteGraph, x: TensorRef, name: string): TensorRef {
  const y = g.typedActivation(name, TensorType.INT32, x.shape);
  return g.op(BuiltinOperator.CAST, V1_1, [x.index], [y], { kind: 'cast', from: TensorType.FLOAT32, to: TensorType.INT32 })[0]!;
}

/** 1 where float32 `x` is not 0, else 0, as float32 (NOT_EQUAL then CAST): a Keras mask from Embedding ids. */
export function nonZeroMask(g: TfliteGraph, x: TensorRef, name: string): TensorRef {
  const zero = g.floatConstant(`${name}/zero`, [], Float32Array.of(0));
  const kept = g.typedActivation(`${name}/kept`, TensorType.BOOL, x.shape);
  g.op(BuiltinOperator.NOT_EQUAL, V1_1, [x.index, zero], [kept], { kind: 'notEqual' });
  const y = g.typedActivation(name, TensorType.FLOAT32, x.shape);
  return g.op(BuiltinOperator.CAST, V1_1, [kept.index], [y], { kind: 'cast', from: TensorType.BOOL, to: TensorType.FLOAT32 })[0]!;
}

/** GATHER of rows of a float32 table (a constant, dequantised in the graph when stored quantised) at int32 `indices`. */
export function gatherRows(g: TfliteGraph, table: Kernel, indices: TensorRef, out: OutputSpec, outShape: number[]): TensorRef {
  const params = floatKernel(g, `${out.name}/table`, table);
  const y = g.activation(out, outShape);
  return g.op(BuiltinOperator.GATHER, V1_1, [params, indices.index], [y], { kind: 'gather', axis: 0 })[0]!;
}

export type UnaryActivation = 'relu' | 'relu6' | 'logistic' | 'tanh' | 'softmax' | 'logSoftmax' | 'elu' | 'gelu' | 'hardSwish';

const UNARY: Record<UnaryActivation, { op: BuiltinOperator; versions: OpVersions; quant: OutputQuant }> = {
  relu: { op: BuiltinOperator.RELU, versions: V1_2, quant: 'calibrated' },
  relu6: { op: BuiltinOperator.RELU6, versions: V1_2, quant: 'calibrated' },
  logistic: { op: BuiltinOperator.LOGISTIC, versions: V1_2, quant: FIXED_OUTPUT_QUANT.logistic },
  tanh: { op: BuiltinOperator.TANH, versions: V1_2, quant: FIXED_OUTPUT_QUANT.tanh },
  softmax: { op: BuiltinOperator.SOFTMAX, versions: V1_2, quant: FIXED_OUTPUT_QUANT.softmax },
  logSoftmax: { op: BuiltinOperator.LOG_SOFTMAX, versions: V1_2, quant: FIXED_OUTPUT_QUANT.logSoftmax },
  elu: { op: BuiltinOperator.ELU, versions: V1_1, quant: 'calibrated' },
  gelu: { op: BuiltinOperator.GELU, versions: V1_2, quant: 'calibrated' },
  hardSwish: { op: BuiltinOperator.HARD_SWISH, versions: V1_1, quant: 'calibrated' },
};

/** A one-input activation op; softmax and log-softmax work on the last axis. */
export function unary(g: TfliteGraph, kind: UnaryActivation, x: TensorRef, out: OutputSpec): TensorRef {
  const { op, versions, quant } = UNARY[kind];
  const y = g.activation(out, x.shape, quant);
  const options = kind === 'softmax' ? { kind: 'softmax' as const, beta: 1 }
    : kind === 'logSoftmax' ? { kind: 'logSoftmax' as const }
      : kind === 'gelu' ? { kind: 'gelu' as const, approximate: false }
        : kind === 'hardSwish' ? { kind: 'hardSwish' as const } : undefined;
  return g.op(op, versions, [x.index], [y], options)[0]!;
}

export function leakyRelu(g: TfliteGraph, x: TensorRef, alpha: number, out: OutputSpec): TensorRef {
  const y = g.activation(out, x.shape);
  return g.op(BuiltinOperator.LEAKY_RELU, V1_1, [x.index], [y], { kind: 'leakyRelu', alpha })[0]!;
}

/** A scalar constant operand for ADD/MUL: float32, or int8 per tensor (exact for the one value it holds). */
export function scalarConstant(g: TfliteGraph, name: string, value: number): TensorRef {
  if (!g.int8) return { index: g.floatConstant(name, [], Float32Array.of(value)), shape: [] };
  const quant = { scale: Math.fround(Math.abs(value) / 127 || 1), zeroPoint: 0 };
  const q = Int8Array.of(value === 0 ? 0 : Math.sign(value) * 127);
  const index = g.constant(name, TensorType.INT8, [], new Uint8Array(q.buffer), { scale: [quant.scale], zeroPoint: [0] });
  return { index, shape: [], quant };
}
