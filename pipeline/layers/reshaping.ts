/**
 * The reshaping family: Flatten, Reshape, Permute. All three are defined on the Keras (channels-last) element
 * order, so the ONNX export brings their input back to Keras layout first — then a following Dense's weights apply
 * unchanged. Pruning follows Flatten (each channel's block of H·W rows, NHWC order); Reshape and Permute move
 * channels somewhere the analysis does not follow, so they block the channels they touch.
 */
import type { TfliteConversion } from '../formats/tflite/converter.ts';
import { reshape as reshapeTflite } from '../formats/tflite/ops.ts';
import { reshape as reshapeOp } from '../train/ort/ops.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import { badValue, channelsLast, custom } from './config.ts';
import { invalid, noWeights, prod } from './shared.ts';
import { defineLayer, type LayerConfig } from './types.ts';

export interface FlattenConfig extends LayerConfig {
  dataFormat: 'channels_last';
}

export interface ReshapeConfig extends LayerConfig {
  /** Per-sample target shape; -1 marks the one inferred dimension (tfjs saves it as null). */
  targetShape: number[];
}

export interface PermuteConfig extends LayerConfig {
  /** A permutation of 1..rank (Keras counts the batch axis as 0). */
  dims: number[];
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

const targetShape = custom<number[]>('target_shape', (v, ctx) => {
  const ok = Array.isArray(v) && v.length > 0 && v.every((d) => d === null || (isInt(d) && d !== 0));
  const dims = ok ? (v as (number | null)[]).map((d) => (d === null || d < 0 ? -1 : d)) : [];
  if (!ok || dims.filter((d) => d === -1).length > 1) throw badValue(ctx, 'a list of positive integers with at most one unknown (null or -1)', v);
  return dims;
}, (v) => v.map((d) => (d === -1 ? null : d)));

const permutation = custom<number[]>('dims', (v, ctx) => {
  const ok = Array.isArray(v) && v.length > 0 && v.every(isInt) && [...v].sort((a, b) => (a as number) - (b as number)).every((d, i) => d === i + 1);
  if (!ok) throw badValue(ctx, 'a permutation of 1..rank', v);
  return [...(v as number[])];
}, (v) => [...v]);

/**
 * Flatten and Reshape in training: the input (Keras layout) reshaped to the output shape, and the gradient reshaped
 * back to the input's. Fixed sizes only.
 */
const reshapingRule: LayerRule<null, LayerConfig> = {
  unsupported(_layer, inShapes) {
    if (inShapes[0]!.slice(1).some((d) => d === null)) return `input shape [${inShapes[0]}] (needs fixed sizes)`;
    return undefined;
  },
  forward({ b, layer, inputs, outShape }) {
    const x = b.inLayout(inputs[0]!, 'keras');
    const y = reshapeOp(b, x.name, [-1, ...(outShape.slice(1) as number[])], `${layer.name}/reshape`);
    return { pre: { name: y, layout: 'keras', shape: outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ b, layer, inputs, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const shape = inputs[0]!.shape.slice(1) as number[];
    const dx = reshapeOp(b, dPre, [-1, ...shape], `${layer.name}/grad/input`);
    return { inputs: [{ name: dx, layout: 'keras', shape: inputs[0]!.shape }], weights: {} };
  },
};

/** TFLite: a RESHAPE to the output shape — TFLite is NHWC, the Keras element order, so no transpose. */
const toOutputShape: TfliteConversion = { convert: (ctx) => reshapeTflite(ctx.g, ctx.inputs[0]!, ctx.out, ctx.outShape) };

export const flatten = defineLayer<FlattenConfig>({
  className: 'Flatten',
  family: 'reshaping',
  arity: 'one',
  fields: { dataFormat: channelsLast() },
  weights: noWeights,
  outputShape: (_layer, [input]) => [prod(input!)],
  channels(ctx) {
    const input = ctx.input();
    const spatial = ctx.outShape()[0]! / input.length;
    if (!Number.isInteger(spatial)) ctx.refuse('output size is not a multiple of its input channels');
    const out = new Int32Array(input.length * spatial);
    for (let s = 0; s < spatial; s++) out.set(input, s * input.length); // NHWC: feature (h·W + w)·C + c
    return out;
  },
  onnx({ b, layer, inputs }) {
    const x = b.inLayout(inputs[0]!, 'keras');
    return { name: b.op('Flatten', [x.name], { axis: { i: 1 } }, `${layer.name}/flatten`), layout: 'keras' };
  },
  ort: reshapingRule,
  tflite: toOutputShape,
});

/** Permute moves elements without computing: the gradient moves them back. */
const permuteRule: LayerRule<null, PermuteConfig> = {
  forward({ b, layer, inputs, outShape }) {
    const x = b.inLayout(inputs[0]!, 'keras');
    const y = b.op('Transpose', [x.name], { perm: { ints: [0, ...layer.config.dims] } }, `${layer.name}/permute`);
    return { pre: { name: y, layout: 'keras', shape: outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ b, layer, inputs, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const inverse = [0, ...layer.config.dims.map((_, i) => layer.config.dims.indexOf(i + 1) + 1)];
    const dx = b.op('Transpose', [dPre], { perm: { ints: inverse } }, `${layer.name}/grad/input`);
    return { inputs: [{ name: dx, layout: 'keras', shape: inputs[0]!.shape }], weights: {} };
  },
};

export const reshape = defineLayer<ReshapeConfig>({
  className: 'Reshape',
  family: 'reshaping',
  arity: 'one',
  fields: { targetShape },
  weights: noWeights,
  outputShape(layer, [input]) {
    const target = layer.config.targetShape;
    const total = prod(input!);
    const known = prod(target.filter((d) => d !== -1));
    const out = target.map((d) => (d === -1 ? total / known : d));
    if (prod(out) !== total || !out.every(Number.isInteger)) throw invalid(layer, `cannot reshape [${input}] (${total} values) to [${target}]`);
    return out;
  },
  onnx({ b, layer, inputs }) {
    const x = b.inLayout(inputs[0]!, 'keras');
    // Leading 0 copies the batch dimension (allowzero is 0), so the batch stays dynamic.
    const shape = b.int64Const(`${layer.name}/shape`, [0, ...layer.config.targetShape]);
    return { name: b.op('Reshape', [x.name, shape], {}, `${layer.name}/reshape`), layout: 'keras' };
  },
  ort: reshapingRule,
  tflite: toOutputShape,
});

export const permute = defineLayer<PermuteConfig>({
  className: 'Permute',
  family: 'reshaping',
  arity: 'one',
  fields: { dims: permutation },
  weights: noWeights,
  outputShape(layer, [input]) {
    const dims = layer.config.dims;
    if (dims.length !== input!.length) throw invalid(layer, `has dims [${dims}] for an input of shape [${input}]`);
    return dims.map((d) => input![d - 1]!);
  },
  onnx({ b, layer, inputs }) {
    const x = b.inLayout(inputs[0]!, 'keras');
    return { name: b.op('Transpose', [x.name], { perm: { ints: [0, ...layer.config.dims] } }, `${layer.name}/permute`), layout: 'keras' };
  },
  ort: permuteRule,
});

export const reshapingLayers = { Flatten: flatten, Reshape: reshape, Permute: permute };
