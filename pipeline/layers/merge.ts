/**
 * The merge family: Add, Subtract, Multiply, Average, Maximum, Minimum (element-wise, broadcasting like tfjs's
 * computeElementwiseOpOutputShape) and Concatenate. tfjs has no Subtract class; it is here for Keras models.
 *
 * Pruning: element-wise merges unite the channels at equal positions of all their inputs (both sides of a residual
 * Add leave together); Concatenate on the channel axis concatenates its inputs' channels, on another axis unites them.
 * ONNX and ORT training bring all inputs to one layout (NCHW if any already is, so a residual Add between convs needs
 * no transpose). ORT's Add passes dY to every input (equal shapes only, so no broadcast reduction is needed);
 * Concatenate slices dY back into each input's extent along the concatenation axis.
 */
import { onnxAxis, type GraphBuilder, type Layout, type TensorRef } from '../onnx/builder.ts';
import { unsupportedOption, type LayerConverter } from '../onnx/converter.ts';
import { tfliteAxis, tfliteUnsupported, type TfliteConversion, type TfliteConvertContext } from '../formats/tflite/converter.ts';
import type { TensorRef as TfliteTensor } from '../formats/tflite/graph.ts';
import { binary, concatenation, scalarConstant } from '../formats/tflite/ops.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import { singleAxis } from './config.ts';
import { invalid, noWeights } from './shared.ts';
import { defineLayer, type ChannelContext, type LayerConfig, type Shape } from './types.ts';
import { concatTyped } from '../typed-arrays.ts';
import { averageSumKey, mergePartialKey, type LayerIR } from '../ir.ts';

export interface ConcatenateConfig extends LayerConfig {
  /** Keras axis (batch counted; -1 is the last). */
  axis: number;
}

function atLeastTwo(layer: LayerIR, inputs: Shape[]): void {
  if (inputs.length < 2) throw invalid(layer, `needs at least 2 inputs, got ${inputs.length}`);
}

/** Right-aligned broadcast, size-1 dimensions stretch. */
function broadcast(layer: LayerIR, inputs: Shape[]): Shape {
  atLeastTwo(layer, inputs);
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

/** Per-sample index of the Keras axis (batch counted) for rank `rank`. */
function concatAxis(layer: LayerIR<ConcatenateConfig>, rank: number): number {
  const raw = layer.config.axis;
  const axis = raw < 0 ? rank + raw : raw - 1;
  if (axis < 0 || axis >= rank) throw invalid(layer, `has axis ${raw}, outside the per-sample rank ${rank}`, 'concatenate along a non-batch axis');
  return axis;
}

function uniteInputs(ctx: ChannelContext): Int32Array {
  const inputs = ctx.inputs();
  if (inputs.length < 2) ctx.refuse(`merges ${inputs.length} input(s)`);
  const first = inputs[0]!;
  if (inputs.some((s) => s.length !== first.length)) ctx.refuse('merges inputs with different channel counts (broadcast)');
  for (const s of inputs.slice(1)) ctx.unite(first, s);
  return first;
}

function commonLayout(b: GraphBuilder, inputs: TensorRef[]): { refs: TensorRef[]; layout: Layout } {
  const layout: Layout = inputs.some((x) => x.layout === 'nchw') ? 'nchw' : 'keras';
  return { refs: inputs.map((x) => b.inLayout(x, layout)), layout };
}

function sameRankRefs(layer: LayerIR, inputs: TensorRef[]): void {
  const ranks = new Set(inputs.map((x) => x.shape.length));
  if (ranks.size !== 1) throw unsupportedOption(layer, `merging tensors of different ranks (${[...ranks].join(', ')})`, 'give all inputs the same rank');
}

/** An n-ary op: variadic ONNX ops take all inputs at once, binary ones are chained left to right. */
function elementwiseOnnx(opType: string, variadic: boolean): LayerConverter {
  return ({ b, layer, inputs }) => {
    sameRankRefs(layer, inputs);
    const { refs, layout } = commonLayout(b, inputs);
    const names = refs.map((r) => r.name);
    const hint = `${layer.name}/${opType}`;
    if (variadic) return { name: b.op(opType, names, {}, hint), layout };
    let acc = names[0]!;
    for (const next of names.slice(1)) acc = b.op(opType, [acc, next], {}, hint);
    return { name: acc, layout };
  };
}

const concatenateOnnx: LayerConverter<ConcatenateConfig> = ({ b, layer, inputs }) => {
  sameRankRefs(layer, inputs);
  const { refs, layout } = commonLayout(b, inputs);
  const axis = onnxAxis(layer.config.axis, refs[0]!.shape.length, layout);
  return { name: b.op('Concat', refs.map((r) => r.name), { axis: { i: axis } }, `${layer.name}/concat`), layout };
};

function sameRank(inShapes: (number | null)[][]): string | undefined {
  const ranks = new Set(inShapes.map((s) => s.length));
  return ranks.size === 1 ? undefined : `inputs of different ranks (${[...ranks].join(', ')})`;
}

const addRule: LayerRule<null> = {
  unsupported(_layer, inShapes) {
    const key = (s: (number | null)[]) => s.slice(1).join('x');
    if (inShapes.some((s) => key(s) !== key(inShapes[0]!))) return `broadcasting inputs [${inShapes.map((s) => `[${s.slice(1)}]`).join(', ')}]`;
    return sameRank(inShapes);
  },
  forward(ctx) {
    const { refs, layout } = commonLayout(ctx.b, ctx.inputs);
    const y = ctx.b.op('Sum', refs.map((r) => r.name), {}, `${ctx.layer.name}/sum`);
    return { pre: { name: y, layout, shape: ctx.outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ inputs, forward, dPre, needInput }) {
    return {
      inputs: inputs.map((x, i) => (needInput[i] ? { name: dPre, layout: forward.pre.layout, shape: x.shape } : undefined)),
      weights: {},
    };
  },
};

const concatenateRule: LayerRule<{ axis: number }, ConcatenateConfig> = {
  unsupported: (_layer, inShapes) => sameRank(inShapes),
  forward(ctx) {
    const { refs, layout } = commonLayout(ctx.b, ctx.inputs);
    const axis = onnxAxis(ctx.layer.config.axis, refs[0]!.shape.length, layout);
    const y = ctx.b.op('Concat', refs.map((r) => r.name), { axis: { i: axis } }, `${ctx.layer.name}/concat`);
    return { pre: { name: y, layout, shape: ctx.outShape }, activation: { kind: 'linear' }, saved: { axis } };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    const { axis } = forward.saved;
    const layout = forward.pre.layout;
    const kerasAxis = layer.config.axis;
    const rank = inputs[0]!.shape.length;
    const k = kerasAxis < 0 ? kerasAxis + rank : kerasAxis;
    let offset = 0;
    return {
      inputs: inputs.map((x, i) => {
        const size = x.shape[k] as number;
        const start = offset;
        offset += size;
        if (!needInput[i]) return undefined;
        const h = `${layer.name}/grad/input_${i}`;
        const dx = b.op('Slice', [
          dPre, b.int64Const(`${h}/starts`, [start]), b.int64Const(`${h}/ends`, [start + size]), b.int64Const(`${h}/axes`, [axis]),
        ], {}, h);
        return { name: dx, layout, shape: x.shape };
      }),
      weights: {},
    };
  },
};

/** TFLite: inputs of one rank (TFLite's binary ops broadcast, but tfjs merges same-rank tensors). */
function sameRankTflite(ctx: TfliteConvertContext): void {
  const ranks = new Set(ctx.inputs.map((x) => x.shape.length));
  if (ranks.size !== 1) throw tfliteUnsupported(ctx.layer, `merging tensors of different ranks (${[...ranks].join(', ')})`, 'give all inputs the same rank');
}

/**
 * TFLite: x0 ∘ x1 ∘ … as a chain of binary ops, left to right. In int8 the running result after i + 1 inputs is
 * quantised on its own calibrated range (mergePartialKey: x0 + x1 can span far more than x0 + x1 + x2).
 */
function chainTflite(ctx: TfliteConvertContext, kind: 'add' | 'mul' | 'maximum' | 'minimum', final = ctx.out): TfliteTensor {
  sameRankTflite(ctx);
  let acc = ctx.inputs[0]!;
  for (let i = 1; i < ctx.inputs.length; i++) {
    const out = i === ctx.inputs.length - 1 ? final : { name: `${ctx.out.name}/partial${i}`, rangeKey: mergePartialKey(ctx.layer.name, i) };
    acc = binary(ctx.g, kind, acc, ctx.inputs[i]!, out, ctx.outShape);
  }
  return acc;
}

const chained = (kind: 'add' | 'mul' | 'maximum' | 'minimum'): TfliteConversion => ({ convert: (ctx) => chainTflite(ctx, kind) });

const subtractTflite: TfliteConversion = {
  convert(ctx) {
    if (ctx.inputs.length !== 2) throw tfliteUnsupported(ctx.layer, `Subtract of ${ctx.inputs.length} inputs`, 'Subtract takes exactly 2 inputs');
    sameRankTflite(ctx);
    return binary(ctx.g, 'sub', ctx.inputs[0]!, ctx.inputs[1]!, ctx.out, ctx.outShape);
  },
};

/** TFLite: the sum (its own calibrated range, averageSumKey), then × 1/n. */
const averageTflite: TfliteConversion = {
  convert(ctx) {
    const n = ctx.inputs.length;
    const sum = chainTflite(ctx, 'add', { name: `${ctx.out.name}/sum`, rangeKey: averageSumKey(ctx.layer.name) });
    return binary(ctx.g, 'mul', sum, scalarConstant(ctx.g, `${ctx.out.name}/reciprocal`, 1 / n), ctx.out, ctx.outShape);
  },
};

/** TFLite: CONCATENATION; int8 inputs are requantised to the output's parameters, which the kernel requires. */
const concatenateTflite: TfliteConversion<ConcatenateConfig> = {
  convert(ctx) {
    sameRankTflite(ctx);
    return concatenation(ctx.g, ctx.inputs, tfliteAxis(ctx.layer.config.axis, ctx.outShape.length), ctx.out, ctx.outShape);
  },
};

function elementwise(className: string, onnx: LayerConverter, ort: LayerRule<null> | string, tflite: TfliteConversion) {
  return defineLayer<LayerConfig>({
    className, family: 'merge', arity: 'many', fields: {}, weights: noWeights, outputShape: broadcast, channels: uniteInputs, onnx, ort, tflite,
  });
}

export const concatenate = defineLayer<ConcatenateConfig>({
  className: 'Concatenate',
  family: 'merge',
  arity: 'many',
  fields: { axis: singleAxis(-1) },
  weights: noWeights,
  outputShape(layer, inputs) {
    atLeastTwo(layer, inputs);
    const r = inputs[0]!.length;
    const axis = concatAxis(layer, r);
    const out = [...inputs[0]!];
    for (const s of inputs.slice(1)) {
      if (s.length !== r || s.some((d, i) => i !== axis && d !== out[i])) throw invalid(layer, `cannot concatenate [${inputs[0]}] and [${s}] on axis ${layer.config.axis}`);
      out[axis] += s[axis]!;
    }
    return out;
  },
  channels(ctx) {
    const rank = ctx.outShape().length;
    // Along H or W, channel i of every input meets.
    if (concatAxis(ctx.layer, rank) !== rank - 1) return uniteInputs(ctx);
    return concatTyped(ctx.inputs(), Int32Array);
  },
  onnx: concatenateOnnx,
  ort: concatenateRule,
  tflite: concatenateTflite,
});

export const mergeLayers = {
  Add: elementwise('Add', elementwiseOnnx('Sum', true), addRule, chained('add')),
  Subtract: elementwise('Subtract', elementwiseOnnx('Sub', false), 'no ORT training rule for Subtract', subtractTflite),
  Multiply: elementwise('Multiply', elementwiseOnnx('Mul', false), 'no ORT training rule for Multiply', chained('mul')),
  Average: elementwise('Average', elementwiseOnnx('Mean', true), 'no ORT training rule for Average', averageTflite),
  Maximum: elementwise('Maximum', elementwiseOnnx('Max', true), 'no ORT training rule for Maximum', chained('maximum')),
  Minimum: elementwise('Minimum', elementwiseOnnx('Min', true), 'no ORT training rule for Minimum', chained('minimum')),
  Concatenate: concatenate,
};
