/** Dense on [batch, features]: Gemm forward; dW = Xᵀ·dY, db = Σ_batch dY, dX = dY·Wᵀ (Gemm transposes, no copies). */
import { boolOpt, requireWeight, stringOpt } from '../../../onnx/layer-converters/common.ts';
import { activationByName } from './activations.ts';
import { asStored, reduceSum } from './ops.ts';
import type { LayerRule } from './types.ts';

interface DenseSaved {
  x: string;
  w: string;
}

const dense: LayerRule<DenseSaved> = {
  unsupported(layer, inShapes) {
    if (inShapes[0].length !== 2) return `Dense on a rank-${inShapes[0].length} input (only [batch, features] is covered)`;
    const name = stringOpt(layer, 'activation', 'linear');
    return activationByName(name) ? undefined : `activation "${name}"`;
  },
  forward({ b, layer, inputs, outShape, weights }) {
    const x = b.inLayout(inputs[0], 'keras');
    const w = weights.weight('kernel', asStored(requireWeight(layer, 'kernel').shape));
    const gemmInputs = [x.name, w];
    if (boolOpt(layer, 'use_bias', true)) gemmInputs.push(weights.weight('bias', asStored(requireWeight(layer, 'bias').shape)));
    const y = b.op('Gemm', gemmInputs, {}, `${layer.name}/gemm`);
    return {
      pre: { name: y, layout: 'keras', shape: outShape },
      activation: activationByName(stringOpt(layer, 'activation', 'linear'))!,
      saved: { x: x.name, w },
    };
  },
  backward({ b, layer, inputs, forward, dPre, needInput, trainable }) {
    const h = `${layer.name}/grad`;
    const { x, w } = forward.saved;
    const weights: Record<string, string> = {};
    if (trainable.has('kernel')) weights.kernel = b.op('Gemm', [x, dPre], { transA: { i: 1 } }, `${h}/kernel`);
    if (trainable.has('bias')) weights.bias = reduceSum(b, dPre, [0], false, `${h}/bias`);
    const dx = needInput[0] ? b.op('Gemm', [dPre, w], { transB: { i: 1 } }, `${h}/input`) : undefined;
    return { inputs: [dx ? { name: dx, layout: 'keras', shape: inputs[0].shape } : undefined], weights };
  },
};

export const denseRules: Record<string, LayerRule<DenseSaved>> = { Dense: dense };
