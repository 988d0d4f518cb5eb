/**
 * Add and Concatenate. Inputs are brought to one layout (NCHW if any already is, as the ONNX export does).
 * Add passes dY to every input (equal shapes only, so no broadcast reduction is needed); Concatenate slices dY
 * back into each input's extent along the concatenation axis.
 */
import { onnxAxis, type Layout, type TensorRef } from '../../../onnx/builder.ts';
import { numberOpt } from '../../../onnx/layer-converters/common.ts';
import type { ForwardContext, LayerRule } from './types.ts';

function commonLayout(ctx: ForwardContext): { refs: TensorRef[]; layout: Layout } {
  const layout: Layout = ctx.inputs.some((x) => x.layout === 'nchw') ? 'nchw' : 'keras';
  return { refs: ctx.inputs.map((x) => ctx.b.inLayout(x, layout)), layout };
}

function sameRank(inShapes: (number | null)[][]): string | undefined {
  const ranks = new Set(inShapes.map((s) => s.length));
  return ranks.size === 1 ? undefined : `inputs of different ranks (${[...ranks].join(', ')})`;
}

const add: LayerRule<null> = {
  unsupported(_layer, inShapes) {
    const key = (s: (number | null)[]) => s.slice(1).join('x');
    if (inShapes.some((s) => key(s) !== key(inShapes[0]))) return `broadcasting inputs [${inShapes.map((s) => `[${s.slice(1)}]`).join(', ')}]`;
    return sameRank(inShapes);
  },
  forward(ctx) {
    const { refs, layout } = commonLayout(ctx);
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

interface ConcatSaved {
  axis: number;
}

const concatenate: LayerRule<ConcatSaved> = {
  unsupported(_layer, inShapes) {
    return sameRank(inShapes);
  },
  forward(ctx) {
    const { refs, layout } = commonLayout(ctx);
    const axis = onnxAxis(numberOpt(ctx.layer, 'axis', -1), refs[0].shape.length, layout);
    const y = ctx.b.op('Concat', refs.map((r) => r.name), { axis: { i: axis } }, `${ctx.layer.name}/concat`);
    return { pre: { name: y, layout, shape: ctx.outShape }, activation: { kind: 'linear' }, saved: { axis } };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    const { axis } = forward.saved;
    const layout = forward.pre.layout;
    const kerasAxis = numberOpt(layer, 'axis', -1);
    const rank = inputs[0].shape.length;
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

export const mergeRules: Record<string, LayerRule<any>> = { Add: add, Concatenate: concatenate };
