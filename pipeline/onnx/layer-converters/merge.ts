/**
 * Merge layers. Inputs may arrive in different layouts; all are brought to one (NCHW if any input
 * already is, so a residual Add between convs needs no transpose), and Concatenate's Keras axis is
 * mapped into that layout.
 */
import type { Layout, TensorRef } from '../builder.ts';
import { onnxAxis } from '../builder.ts';
import { numberOpt, unsupportedOption, type ConvertContext, type LayerConverter } from './common.ts';

function commonLayout(ctx: ConvertContext): { refs: TensorRef[]; layout: Layout } {
  const ranks = new Set(ctx.inputs.map((x) => x.shape.length));
  if (ranks.size !== 1) {
    throw unsupportedOption(ctx.layer, `merging tensors of different ranks (${[...ranks].join(', ')})`, 'give all inputs the same rank');
  }
  const layout: Layout = ctx.inputs.some((x) => x.layout === 'nchw') ? 'nchw' : 'keras';
  return { refs: ctx.inputs.map((x) => ctx.b.inLayout(x, layout)), layout };
}

/** An n-ary op: variadic ONNX ops take all inputs at once, binary ones are chained left to right. */
function elementwise(opType: string, variadic: boolean): LayerConverter {
  return (ctx) => {
    const { refs, layout } = commonLayout(ctx);
    const names = refs.map((r) => r.name);
    const hint = `${ctx.layer.name}/${opType}`;
    if (variadic) return { name: ctx.b.op(opType, names, {}, hint), layout };
    let acc = names[0];
    for (const next of names.slice(1)) acc = ctx.b.op(opType, [acc, next], {}, hint);
    return { name: acc, layout };
  };
}

const concatenate: LayerConverter = (ctx) => {
  const { refs, layout } = commonLayout(ctx);
  const rank = refs[0].shape.length;
  const axis = onnxAxis(numberOpt(ctx.layer, 'axis', -1), rank, layout);
  return { name: ctx.b.op('Concat', refs.map((r) => r.name), { axis: { i: axis } }, `${ctx.layer.name}/concat`), layout };
};

export const mergeConverters: Record<string, LayerConverter> = {
  Add: elementwise('Sum', true),
  Multiply: elementwise('Mul', false),
  Average: elementwise('Mean', true),
  Maximum: elementwise('Max', true),
  Minimum: elementwise('Min', true),
  Concatenate: concatenate,
};

