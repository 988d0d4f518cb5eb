/**
 * Dense: y = activation(x · kernel + bias) on the last axis. kernel [in, units], bias [units].
 * ONNX: Gemm on 2-D inputs, MatMul + Add on higher rank (Keras applies the kernel to the last axis).
 * ORT training on [batch, features]: Gemm forward; dW = Xᵀ·dY, db = Σ_batch dY, dX = dY·Wᵀ (Gemm transposes, no copies).
 */
import { withActivation } from '../formats/tflite/activations.ts';
import { biasOrZeros, type TfliteConversion } from '../formats/tflite/converter.ts';
import { kernelOf } from '../formats/tflite/kernels.ts';
import { fullyConnected, reshape } from '../formats/tflite/ops.ts';
import { requireWeight } from '../onnx/converter.ts';
import { asStored, reduceSum } from '../train/ort/ops.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import { applyActivation, trainingActivation, trainingActivationProblem, type ActivationName } from './activations/functions.ts';
import { activation, bool, int } from './config.ts';
import { kernelProducer } from './producer.ts';
import { invalid, prod } from './shared.ts';
import { defineLayer, type LayerClass, type LayerConfig } from './types.ts';
import { weightConst } from '../onnx/weight-const.ts';

export interface DenseConfig extends LayerConfig {
  units: number;
  activation: ActivationName;
  useBias: boolean;
}

interface DenseSaved {
  x: string;
  w: string;
}

const denseRule: LayerRule<DenseSaved, DenseConfig> = {
  unsupported(layer, inShapes) {
    if (inShapes[0]!.length !== 2) return `Dense on a rank-${inShapes[0]!.length} input (only [batch, features] is covered)`;
    return trainingActivationProblem(layer.config.activation);
  },
  forward({ b, layer, inputs, outShape, weights }) {
    const x = b.inLayout(inputs[0]!, 'keras');
    const w = weights.weight('kernel', asStored(requireWeight(layer, 'kernel').shape));
    const gemmInputs = [x.name, w];
    if (layer.config.useBias) gemmInputs.push(weights.weight('bias', asStored(requireWeight(layer, 'bias').shape)));
    const y = b.op('Gemm', gemmInputs, {}, `${layer.name}/gemm`);
    return {
      pre: { name: y, layout: 'keras', shape: outShape },
      activation: trainingActivation(layer.config.activation)!,
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
    return { inputs: [dx ? { name: dx, layout: 'keras', shape: inputs[0]!.shape } : undefined], weights };
  },
};

/**
 * TFLite: FULLY_CONNECTED with weights [out, in] (Keras stores [in, out]). FULLY_CONNECTED flattens all leading axes,
 * so a Dense on a rank > 2 input (Keras applies the kernel to the last axis) is reshaped back afterwards.
 */
const denseTflite: TfliteConversion<DenseConfig> = {
  convert(ctx) {
    const { layer, g } = ctx;
    const w = requireWeight(layer, 'kernel');
    const [inUnits, units] = w.shape as [number, number];
    const weights = kernelOf(w, { perm: [1, 0] });
    const bias = biasOrZeros(layer.config.useBias ? requireWeight(layer, 'bias').values : undefined, units);
    const x = ctx.inputs[0]!;
    return withActivation(ctx, (out, fused) => {
      if (x.shape.length <= 2) return fullyConnected(g, x, weights, bias, out, ctx.outShape, fused);
      const rows = x.shape.reduce((a, b) => a * b, 1) / inUnits;
      const flat = fullyConnected(g, x, weights, bias, { name: `${out.name}/2d`, rangeKey: out.rangeKey ?? out.name }, [rows, units], fused);
      return reshape(g, flat, out, ctx.outShape);
    });
  },
};

export const dense: LayerClass<DenseConfig> = defineLayer<DenseConfig>({
  className: 'Dense',
  family: 'dense',
  arity: 'one',
  fields: { units: int('units'), activation: activation(), useBias: bool('use_bias', true) },
  weights(layer, [input]) {
    const { units, useBias } = layer.config;
    return [{ name: 'kernel', shape: [input![input!.length - 1]!, units] }, ...(useBias ? [{ name: 'bias', shape: [units] }] : [])];
  },
  outputShape(layer, [input]) {
    if (input!.length < 1) throw invalid(layer, 'needs an input with a feature axis');
    return [...input!.slice(0, -1), layer.config.units];
  },
  macs: (_layer, [input], output) => prod(output.slice(0, -1)) * input![input!.length - 1]! * output[output.length - 1]!,
  ...kernelProducer(() => dense, 'units', 0, 1),
  onnx({ b, layer, inputs }) {
    // The kernel acts on the Keras last axis, so the input must be in Keras order (NHWC if 4-D).
    const x = b.inLayout(inputs[0]!, 'keras');
    const w = requireWeight(layer, 'kernel');
    const kernel = weightConst(b, `${layer.name}/kernel`, w);
    let bias: string | undefined;
    if (layer.config.useBias) {
      const bw = requireWeight(layer, 'bias');
      bias = weightConst(b, `${layer.name}/bias`, bw);
    }
    const rank = x.shape.length;
    let y: string;
    if (rank === 2) {
      y = b.op('Gemm', bias ? [x.name, kernel, bias] : [x.name, kernel], {}, `${layer.name}/gemm`);
    } else {
      y = b.op('MatMul', [x.name, kernel], {}, `${layer.name}/matmul`);
      if (bias) y = b.op('Add', [y, bias], {}, `${layer.name}/bias_add`);
    }
    return applyActivation(b, layer.name, { name: y, layout: 'keras', rank }, layer.config.activation);
  },
  ort: denseRule,
  tflite: denseTflite,
  linearRows: {
    positions: (_config, inShape) => prod(inShape.slice(0, -1)),
    rows(_config, x, inShape, positions) {
      if (!positions) return x; // every position, in order: the activations are the rows
      const n = inShape[inShape.length - 1]!;
      const out = new Float32Array(positions.length * n);
      for (let r = 0; r < positions.length; r++) out.set(x.subarray(positions[r]! * n, (positions[r]! + 1) * n), r * n);
      return out;
    },
    sampled: false,
  },
});

export const denseLayers = { Dense: dense };
