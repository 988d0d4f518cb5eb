/**
 * Output shape of every layer (without the batch dimension), computed from the IR alone, with the same
 * arithmetic tfjs-layers uses (conv_utils.convOutputLength etc.). Images are channels_last only.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, ModelIR } from '../ir.ts';

type Shape = number[];
type ShapeRule = (layer: LayerIR, inputs: Shape[]) => Shape;

const where = (l: LayerIR) => `layer "${l.name}"`;

function invalid(layer: LayerIR, message: string, hint = 'the model topology is inconsistent; re-export the model'): SlimnetError {
  return new SlimnetError('MODEL_INVALID', where(layer), `${layer.className} ${message}`, hint);
}

/** A Keras int-or-tuple option as a pair: 3 -> [3, 3], [2, 3] -> [2, 3]. */
function pair(layer: LayerIR, key: string, fallback?: [number, number]): [number, number] {
  const v = layer.config[key];
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0], v[1]];
  if ((v === undefined || v === null) && fallback) return fallback;
  throw invalid(layer, `has an invalid ${key}: ${JSON.stringify(v)}`);
}

/**
 * Keras ZeroPadding2D/Cropping2D amounts: n, [h, w] (symmetric per axis) or [[top, bottom], [left, right]], all
 * non-negative integers; a missing value means `fallback` (ZeroPadding2D's Keras default is 1).
 */
export function sides(layer: LayerIR, key: string, fallback?: number): [[number, number], [number, number]] {
  const v = layer.config[key] ?? fallback;
  const isCount = (x: unknown): x is number => typeof x === 'number' && Number.isInteger(x) && x >= 0;
  const isPair = (x: unknown): x is [number, number] => Array.isArray(x) && x.length === 2 && x.every(isCount);
  if (isCount(v)) return [[v, v], [v, v]];
  if (Array.isArray(v) && v.length === 2) {
    const [h, w] = v;
    if (isCount(h) && isCount(w)) return [[h, h], [w, w]];
    if (isPair(h) && isPair(w)) return [[h[0], h[1]], [w[0], w[1]]];
  }
  throw invalid(layer, `has an invalid ${key}: ${JSON.stringify(v)}`, 'expected n, [h, w] or [[top, bottom], [left, right]] of non-negative integers');
}

function padding(layer: LayerIR): 'valid' | 'same' {
  const p = layer.config.padding ?? 'valid';
  if (p === 'valid' || p === 'same') return p;
  if (p === 'causal') return 'same';
  throw invalid(layer, `has an invalid padding: ${JSON.stringify(p)}`);
}

/** tfjs conv_utils.convOutputLength. */
export function convOutputLength(input: number, kernel: number, pad: 'valid' | 'same', stride: number, dilation = 1): number {
  const dilated = kernel + (kernel - 1) * (dilation - 1);
  const len = pad === 'same' ? input : input - dilated + 1;
  return Math.floor((len + stride - 1) / stride);
}

/** tfjs conv_utils.deconvLength (Conv2DTranspose). */
function deconvLength(input: number, stride: number, kernel: number, pad: 'valid' | 'same'): number {
  return pad === 'valid' ? input * stride + Math.max(kernel - stride, 0) : input * stride;
}

function rank(layer: LayerIR, shape: Shape, r: number): Shape {
  if (shape.length !== r) throw invalid(layer, `expects a ${r}-D input per sample (${r === 3 ? 'H, W, C' : `rank ${r}`}), got [${shape}]`);
  return shape;
}

function conv2d(layer: LayerIR, [input]: Shape[], channels: (inC: number) => number): Shape {
  const [h, w, c] = rank(layer, input, 3);
  const [kh, kw] = pair(layer, 'kernel_size');
  const [sh, sw] = pair(layer, 'strides', [1, 1]);
  // tfjs's DepthwiseConv2D ignores dilation_rate (in its output shape and its computation); follow the runtime.
  const [dh, dw] = layer.className === 'DepthwiseConv2D' ? [1, 1] : pair(layer, 'dilation_rate', [1, 1]);
  const pad = padding(layer);
  return [convOutputLength(h, kh, pad, sh, dh), convOutputLength(w, kw, pad, sw, dw), channels(c)];
}

function pool2d(layer: LayerIR, [input]: Shape[]): Shape {
  const [h, w, c] = rank(layer, input, 3);
  const [ph, pw] = pair(layer, 'pool_size', [2, 2]);
  const [sh, sw] = pair(layer, 'strides', [ph, pw]);
  const pad = padding(layer);
  return [convOutputLength(h, ph, pad, sh), convOutputLength(w, pw, pad, sw), c];
}

function pool1d(layer: LayerIR, [input]: Shape[]): Shape {
  const [len, c] = rank(layer, input, 2);
  const size = firstInt(layer, 'pool_size', 2);
  return [convOutputLength(len, size, padding(layer), firstInt(layer, 'strides', size)), c];
}

function firstInt(layer: LayerIR, key: string, fallback?: number): number {
  const v = layer.config[key];
  const n = Array.isArray(v) ? v[0] : v;
  if (typeof n === 'number') return n;
  if ((n === undefined || n === null) && fallback !== undefined) return fallback;
  throw invalid(layer, `has an invalid ${key}: ${JSON.stringify(v)}`);
}

function numberOption(layer: LayerIR, key: string): number {
  const v = layer.config[key];
  if (typeof v !== 'number' || !(v > 0)) throw invalid(layer, `has an invalid ${key}: ${JSON.stringify(v)}`);
  return v;
}

function globalPool(layer: LayerIR, [input]: Shape[], r: number): Shape {
  const s = rank(layer, input, r);
  const c = s[s.length - 1];
  return layer.config.keepdims === true ? [...s.slice(0, -1).map(() => 1), c] : [c];
}

/** Element-wise merges broadcast like tfjs's computeElementwiseOpOutputShape (right-aligned, 1 stretches). */
function broadcast(layer: LayerIR, inputs: Shape[]): Shape {
  if (inputs.length < 2) throw invalid(layer, `needs at least 2 inputs, got ${inputs.length}`);
  return inputs.reduce((a, b) => {
    const out: Shape = [];
    for (let i = 1; i <= Math.max(a.length, b.length); i++) {
      const x = a[a.length - i] ?? 1;
      const y = b[b.length - i] ?? 1;
      if (x !== y && x !== 1 && y !== 1) throw invalid(layer, `cannot merge shapes [${a}] and [${b}]`);
      out.unshift(x === 1 ? y : x);
    }
    return out;
  });
}

function concatenate(layer: LayerIR, inputs: Shape[]): Shape {
  if (inputs.length < 2) throw invalid(layer, `needs at least 2 inputs, got ${inputs.length}`);
  const r = inputs[0].length;
  const axisRaw = typeof layer.config.axis === 'number' ? layer.config.axis : -1;
  // Keras counts the batch axis: -1 is the last axis, 1 the first per-sample axis.
  const axis = axisRaw < 0 ? r + axisRaw : axisRaw - 1;
  if (axis < 0 || axis >= r) throw invalid(layer, `has axis ${axisRaw}, outside the per-sample rank ${r}`, 'concatenate along a non-batch axis');
  const out = [...inputs[0]];
  for (const s of inputs.slice(1)) {
    if (s.length !== r || s.some((d, i) => i !== axis && d !== out[i])) throw invalid(layer, `cannot concatenate [${inputs[0]}] and [${s}] on axis ${axisRaw}`);
    out[axis] += s[axis];
  }
  return out;
}

function reshape(layer: LayerIR, [input]: Shape[]): Shape {
  const raw = layer.config.target_shape;
  if (!Array.isArray(raw) || !raw.every((d) => typeof d === 'number' || d === null)) throw invalid(layer, `has an invalid target_shape: ${JSON.stringify(raw)}`);
  // tfjs saves the inferred dimension (-1) as null.
  const target = raw.map((d) => (d === null ? -1 : (d as number)));
  const total = input.reduce((a, b) => a * b, 1);
  const known = target.filter((d) => d !== -1).reduce((a, b) => a * b, 1);
  const unknown = target.filter((d) => d === -1).length;
  const out = target.map((d) => (d === -1 ? total / known : d));
  if (unknown > 1 || out.reduce((a, b) => a * b, 1) !== total || !out.every(Number.isInteger)) {
    throw invalid(layer, `cannot reshape [${input}] (${total} values) to [${target}]`);
  }
  return out;
}

function inputLayer(layer: LayerIR): Shape {
  const c = layer.config;
  const batch = [c.batch_input_shape, c.batchInputShape, c.batch_shape].find(Array.isArray) as unknown[] | undefined;
  const shape = batch ? batch.slice(1) : (c.input_shape ?? c.inputShape);
  if (!Array.isArray(shape)) throw invalid(layer, 'has no batch_input_shape', 'the model input needs a shape');
  if (!shape.every((d) => typeof d === 'number' && d > 0)) {
    throw new SlimnetError('MODEL_INVALID', where(layer), `input shape [${shape.map((d) => d ?? 'null')}] has unknown dimensions`, 'slimnet needs a fixed input shape (set every dimension but the batch)');
  }
  return shape as Shape;
}

const identity: ShapeRule = (_l, [input]) => [...input];

const RULES: Record<string, ShapeRule> = {
  InputLayer: (l) => inputLayer(l),
  Conv2D: (l, i) => conv2d(l, i, () => numberOption(l, 'filters')),
  DepthwiseConv2D: (l, i) => conv2d(l, i, (c) => c * (typeof l.config.depth_multiplier === 'number' ? l.config.depth_multiplier : 1)),
  SeparableConv2D: (l, i) => conv2d(l, i, () => numberOption(l, 'filters')),
  Conv2DTranspose: (l, [input]) => {
    const [h, w] = rank(l, input, 3);
    const [kh, kw] = pair(l, 'kernel_size');
    const [sh, sw] = pair(l, 'strides', [1, 1]);
    return [deconvLength(h, sh, kh, padding(l)), deconvLength(w, sw, kw, padding(l)), numberOption(l, 'filters')];
  },
  Conv1D: (l, [input]) => {
    const [len] = rank(l, input, 2);
    return [convOutputLength(len, firstInt(l, 'kernel_size'), padding(l), firstInt(l, 'strides', 1), firstInt(l, 'dilation_rate', 1)), numberOption(l, 'filters')];
  },
  Dense: (l, [input]) => [...input.slice(0, -1), numberOption(l, 'units')],
  MaxPooling2D: pool2d,
  AveragePooling2D: pool2d,
  MaxPooling1D: pool1d,
  AveragePooling1D: pool1d,
  GlobalAveragePooling2D: (l, i) => globalPool(l, i, 3),
  GlobalMaxPooling2D: (l, i) => globalPool(l, i, 3),
  GlobalAveragePooling1D: (l, i) => globalPool(l, i, 2),
  GlobalMaxPooling1D: (l, i) => globalPool(l, i, 2),
  Flatten: (_l, [input]) => [input.reduce((a, b) => a * b, 1)],
  Reshape: reshape,
  Permute: (l, [input]) => {
    const dims = l.config.dims;
    if (!Array.isArray(dims) || dims.length !== input.length) throw invalid(l, `has invalid dims ${JSON.stringify(dims)} for input [${input}]`);
    return dims.map((d: number) => input[d - 1]);
  },
  ZeroPadding2D: (l, [input]) => {
    const [h, w, c] = rank(l, input, 3);
    const [[t, b], [lft, r]] = sides(l, 'padding', 1);
    return [h + t + b, w + lft + r, c];
  },
  Cropping2D: (l, [input]) => {
    const [h, w, c] = rank(l, input, 3);
    const [[t, b], [lft, r]] = sides(l, 'cropping', 0);
    if (h - t - b <= 0 || w - lft - r <= 0) throw invalid(l, `crops [${input}] to nothing`);
    return [h - t - b, w - lft - r, c];
  },
  UpSampling2D: (l, [input]) => {
    const [h, w, c] = rank(l, input, 3);
    const [fh, fw] = pair(l, 'size', [2, 2]);
    return [h * fh, w * fw, c];
  },
  Add: broadcast,
  Multiply: broadcast,
  Subtract: broadcast,
  Average: broadcast,
  Maximum: broadcast,
  Minimum: broadcast,
  Concatenate: concatenate,
};
for (const c of [
  'BatchNormalization', 'LayerNormalization', 'Activation', 'ReLU', 'LeakyReLU', 'PReLU', 'ELU', 'ThresholdedReLU',
  'Softmax', 'Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout',
]) {
  RULES[c] = identity;
}

const MULTI_INPUT = new Set(['Add', 'Multiply', 'Subtract', 'Average', 'Maximum', 'Minimum', 'Concatenate']);

/** Layer classes inferShapes (and so countMacs) understands. */
export const SUPPORTED_SHAPE_CLASSES: readonly string[] = Object.keys(RULES).sort();

export function inferShapes(ir: ModelIR): Map<string, number[]> {
  const shapes = new Map<string, number[]>();
  for (const layer of ir.layers) {
    const rule = RULES[layer.className];
    if (!rule) {
      throw new SlimnetError(
        'LAYER_UNSUPPORTED',
        `layer "${layer.name}" (${layer.className})`,
        `slimnet cannot infer the output shape of a ${layer.className} layer`,
        `supported layers: ${SUPPORTED_SHAPE_CLASSES.join(', ')}`,
      );
    }
    const format = layer.config.data_format;
    if (format !== undefined && format !== null && format !== 'channels_last') {
      throw new SlimnetError('LAYER_UNSUPPORTED', where(layer), `data_format ${String(format)} is not supported`, 'only channels_last (NHWC) models are supported');
    }
    if (!MULTI_INPUT.has(layer.className) && layer.className !== 'InputLayer' && layer.inputs.length !== 1) {
      throw invalid(layer, `takes one input but is wired to ${layer.inputs.length}`);
    }
    const inputs = layer.inputs.map((n) => {
      const s = shapes.get(n);
      if (!s) throw new Error(`IR is not topologically ordered: "${layer.name}" comes before its input "${n}"`);
      return s;
    });
    shapes.set(layer.name, rule(layer, inputs));
  }
  return shapes;
}
