/**
 * Merge layers: Add, Subtract, Multiply, Maximum, Minimum, Average (chains of binary ops; partial results of
 * more than two inputs are quantised on the layer's range in int8) and Concatenate (int8 inputs requantised to the
 * output's parameters, which the kernel requires).
 */
import type { ConcatenateConfig } from '../../../layers/merge.ts';
import type { TensorRef } from '../graph.ts';
import { binary, concatenation, scalarConstant } from '../ops.ts';
import { tfliteAxis, tfliteUnsupported, type TfliteConvertContext, type TfliteLayerConverter } from './common.ts';

function sameRank(ctx: TfliteConvertContext): void {
  const ranks = new Set(ctx.inputs.map((x) => x.shape.length));
  if (ranks.size !== 1) throw tfliteUnsupported(ctx.layer, `merging tensors of different ranks (${[...ranks].join(', ')})`, 'give all inputs the same rank');
}

/** x0 ∘ x1 ∘ … left to right; `rangeScale` scales the range of every partial result (Average's running sum). */
function chain(ctx: TfliteConvertContext, kind: 'add' | 'mul' | 'maximum' | 'minimum', rangeScale = 1, final = ctx.out): TensorRef {
  sameRank(ctx);
  const key = ctx.out.rangeKey ?? ctx.out.name;
  let acc = ctx.inputs[0]!;
  for (let i = 1; i < ctx.inputs.length; i++) {
    const last = i === ctx.inputs.length - 1;
    const out = last ? final : { name: `${ctx.out.name}/partial${i}`, rangeKey: key, rangeScale };
    acc = binary(ctx.g, kind, acc, ctx.inputs[i]!, out, ctx.outShape);
  }
  return acc;
}

const subtract: TfliteLayerConverter = (ctx) => {
  if (ctx.inputs.length !== 2) throw tfliteUnsupported(ctx.layer, `Subtract of ${ctx.inputs.length} inputs`, 'Subtract takes exactly 2 inputs');
  sameRank(ctx);
  return binary(ctx.g, 'sub', ctx.inputs[0]!, ctx.inputs[1]!, ctx.out, ctx.outShape);
};

/** The sum (whose range is n times the average's), then × 1/n. */
const average: TfliteLayerConverter = (ctx) => {
  const n = ctx.inputs.length;
  const key = ctx.out.rangeKey ?? ctx.out.name;
  const sum = chain(ctx, 'add', n, { name: `${ctx.out.name}/sum`, rangeKey: key, rangeScale: n });
  return binary(ctx.g, 'mul', sum, scalarConstant(ctx.g, `${ctx.out.name}/reciprocal`, 1 / n), ctx.out, ctx.outShape);
};

const concatenate: TfliteLayerConverter<ConcatenateConfig> = (ctx) => {
  sameRank(ctx);
  const axis = tfliteAxis(ctx.layer.config.axis, ctx.outShape.length);
  return concatenation(ctx.g, ctx.inputs, axis, ctx.out, ctx.outShape);
};

export const mergeConverters: Record<string, TfliteLayerConverter<any>> = {
  Add: (ctx) => chain(ctx, 'add'),
  Subtract: subtract,
  Multiply: (ctx) => chain(ctx, 'mul'),
  Maximum: (ctx) => chain(ctx, 'maximum'),
  Minimum: (ctx) => chain(ctx, 'minimum'),
  Average: average,
  Concatenate: concatenate,
};
