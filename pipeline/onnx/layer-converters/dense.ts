/** Dense as Gemm on 2-D inputs, MatMul + Add on higher rank (Keras applies the kernel to the last axis). */
import { applyActivation, fusedActivation } from './activations.ts';
import { boolOpt, requireWeight, type LayerConverter } from './common.ts';

const dense: LayerConverter = ({ b, layer, inputs }) => {
  // The kernel acts on the Keras last axis, so the input must be in Keras order (NHWC if 4-D).
  const x = b.inLayout(inputs[0], 'keras');
  const w = requireWeight(layer, 'kernel');
  const kernel = b.floatConst(`${layer.name}/kernel`, w.shape, w.values);
  let bias: string | undefined;
  if (boolOpt(layer, 'use_bias', true)) {
    const bw = requireWeight(layer, 'bias');
    bias = b.floatConst(`${layer.name}/bias`, [bw.values.length], bw.values);
  }
  const rank = x.shape.length;
  let y: string;
  if (rank === 2) {
    y = b.op('Gemm', bias ? [x.name, kernel, bias] : [x.name, kernel], {}, `${layer.name}/gemm`);
  } else {
    y = b.op('MatMul', [x.name, kernel], {}, `${layer.name}/matmul`);
    if (bias) y = b.op('Add', [y, bias], {}, `${layer.name}/bias_add`);
  }
  return applyActivation(b, layer, { name: y, layout: 'keras', rank }, fusedActivation(layer));
};

export const denseConverters: Record<string, LayerConverter> = { Dense: dense };
