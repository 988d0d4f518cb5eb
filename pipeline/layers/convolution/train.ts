/**
 * onnxruntime training rules of Conv2D, DepthwiseConv2D and Conv1D (the 2-D case with height 1, as tfjs computes
 * it). Kernels are trained in ONNX's layout ([out, in/group, kh, kw]) so no step pays a
 * transpose. Reverse pass, all plain ONNX ops:
 * - input gradient: ConvTranspose of dY with the same kernel, strides, dilations, pads and groups; output_padding
 *   restores the rows/columns the forward's stride skipped.
 * - kernel gradient: a convolution of the input by dY with batch and channels swapped (stride and dilation trade
 *   places); depthwise does the same per channel as a grouped convolution.
 */
import type { Dim, GraphBuilder } from '../../onnx/builder.ts';
import { requireWeight, transposeValues } from '../../onnx/converter.ts';
import { asStored, reduceSum, reshape, transpose } from '../../train/ort/ops.ts';
import type { Backward, BackwardContext, ForwardContext, Forward, LayerRule, WeightLayout } from '../../train/ort/rule.ts';
import { trainingActivation, trainingActivationProblem } from '../activations/functions.ts';
import { samePads, windowPads } from '../window.ts';
import type { Conv1DConfig, Conv2DBase, Conv2DConfig, DepthwiseConv2DConfig, Pair } from './config.ts';

interface Geometry {
  kernel: [number, number];
  strides: [number, number];
  dilations: [number, number];
  /** [top, left, bottom, right] */
  pads: number[];
  /** Input and output spatial sizes. */
  inSize: [number, number];
  outSize: [number, number];
}

interface ConvSaved {
  x: string;
  w: string;
  g: Geometry;
  channels: number;
  /** Depthwise: channel multiplier (groups = channels); Conv2D: undefined. */
  multiplier?: number;
}

function geometry(c: Conv2DBase, inShape: Dim[], outShape: Dim[], kernel: Pair, dilations: Pair): Geometry {
  const strides: Pair = [...c.strides];
  const pads = windowPads(c.padding, [inShape[1] as number, inShape[2] as number], kernel, strides, dilations);
  return {
    kernel, strides, dilations, pads,
    inSize: [inShape[1] as number, inShape[2] as number],
    outSize: [outShape[1] as number, outShape[2] as number],
  };
}

function convAttrs(g: Geometry, group: number) {
  return {
    kernel_shape: { ints: g.kernel }, strides: { ints: g.strides }, dilations: { ints: g.dilations },
    pads: { ints: g.pads }, group: { i: group },
  };
}

/** Rows/columns at the bottom/right the forward window never reached: (H + pads − effective kernel) mod stride. */
function leftover(g: Geometry, axis: 0 | 1): number {
  const effective = (g.kernel[axis] - 1) * g.dilations[axis] + 1;
  return (g.inSize[axis] + g.pads[axis] + g.pads[axis + 2] - effective) % g.strides[axis];
}

function inputGrad(b: GraphBuilder, hint: string, dy: string, w: string, g: Geometry, group: number): string {
  return b.op('ConvTranspose', [dy, w], { ...convAttrs(g, group), output_padding: { ints: [leftover(g, 0), leftover(g, 1)] } }, hint);
}

/**
 * dW[o, i, u, v] = Σ_{n,y,x} dY[n, o, y, x] · X[n, i, y·s + u·d − pad, x·s + v·d − pad]: a convolution of X^T
 * ([i, n, H, W]) by dY^T ([o, n, Ho, Wo]) with stride d and dilation s, giving [i, o, kh, kw] (grouped for depthwise).
 * The bottom/right pads shrink by the leftover so exactly kh×kw positions come out; if the pad is smaller than
 * the leftover, the extra positions are sliced off.
 */
function kernelGradConv(b: GraphBuilder, hint: string, xt: string, dyt: string, g: Geometry, group: number): string {
  const extra = [leftover(g, 0), leftover(g, 1)];
  const pads = [g.pads[0], g.pads[1], Math.max(0, g.pads[2] - extra[0]), Math.max(0, g.pads[3] - extra[1])];
  let r = b.op('Conv', [xt, dyt], {
    strides: { ints: g.dilations }, dilations: { ints: g.strides }, pads: { ints: pads }, group: { i: group },
  }, `${hint}/conv`);
  if (g.pads[2] < extra[0] || g.pads[3] < extra[1]) {
    const starts = b.int64Const(`${hint}/starts`, [0, 0]);
    const ends = b.int64Const(`${hint}/ends`, g.kernel);
    const axes = b.int64Const(`${hint}/axes`, [2, 3]);
    r = b.op('Slice', [r, starts, ends, axes], {}, `${hint}/crop`);
  }
  return r;
}

function biasGrad(b: GraphBuilder, hint: string, dy: string): string {
  return reduceSum(b, dy, [0, 2, 3], false, hint);
}

function spatialProblem(inShapes: Dim[][]): string | undefined {
  const s = inShapes[0]!;
  if (s.length !== 4 || s.slice(1).some((d) => d === null)) return `input shape [${s}] (needs a fixed H, W, C)`;
  return undefined;
}

/** Conv2D kernel [kh, kw, in, out] is trained as [out, in, kh, kw]. */
function convKernelLayout(shape: number[]): WeightLayout {
  const [kh, kw, cin, cout] = shape;
  return {
    shape: [cout, cin, kh, kw],
    toTrain: (v) => transposeValues(v, shape, [3, 2, 0, 1]),
    toIR: (v) => transposeValues(v, [cout, cin, kh, kw], [2, 3, 1, 0]),
  };
}

/** Depthwise kernel [kh, kw, C, m] is trained as [C·m, 1, kh, kw] (output channel c·m + j, as TF orders them). */
function depthwiseKernelLayout(shape: number[]): WeightLayout {
  const [kh, kw, c, m] = shape;
  return {
    shape: [c * m, 1, kh, kw],
    toTrain: (v) => transposeValues(v, shape, [2, 3, 0, 1]),
    toIR: (v) => transposeValues(v, [c, m, kh, kw], [2, 3, 0, 1]),
  };
}

function convForward(ctx: ForwardContext<Conv2DConfig | DepthwiseConv2DConfig>, depthwise: boolean): Forward<ConvSaved> {
  const { b, layer } = ctx;
  const x = b.inLayout(ctx.inputs[0]!, 'nchw');
  const kernelName = depthwise ? 'depthwise_kernel' : 'kernel';
  const stored = requireWeight(layer, kernelName);
  const layout = depthwise ? depthwiseKernelLayout(stored.shape) : convKernelLayout(stored.shape);
  const w = ctx.weights.weight(kernelName, layout);
  const [kh, kw] = stored.shape as Pair;
  const dilations: Pair = depthwise ? [1, 1] : [...layer.config.dilationRate];
  const g = geometry(layer.config, x.shape, ctx.outShape, [kh, kw], dilations);
  const channels = stored.shape[2]!;
  const group = depthwise ? channels : 1;
  const inputs = [x.name, w];
  if (layer.config.useBias) inputs.push(ctx.weights.weight('bias', asStored(requireWeight(layer, 'bias').shape)));
  const y = b.op('Conv', inputs, convAttrs(g, group), `${layer.name}/conv`);
  return {
    pre: { name: y, layout: 'nchw', shape: ctx.outShape },
    activation: trainingActivation(layer.config.activation)!,
    saved: { x: x.name, w, g, channels, multiplier: depthwise ? stored.shape[3] : undefined },
  };
}

function convBackward(ctx: BackwardContext<ConvSaved>): Backward {
  const { b, layer, dPre } = ctx;
  const { x, w, g, channels, multiplier } = ctx.forward.saved;
  const h = `${layer.name}/grad`;
  const group = multiplier === undefined ? 1 : channels;
  const weights: Record<string, string> = {};
  if (ctx.trainable.has('bias')) weights.bias = biasGrad(b, `${h}/bias`, dPre);
  const kernelName = multiplier === undefined ? 'kernel' : 'depthwise_kernel';
  if (ctx.trainable.has(kernelName)) {
    const dyt = transpose(b, dPre, [1, 0, 2, 3], `${h}/dy_t`);
    let xt = transpose(b, x, [1, 0, 2, 3], `${h}/x_t`);
    if (multiplier === undefined) {
      const r = kernelGradConv(b, `${h}/kernel`, xt, dyt, g, 1);
      weights.kernel = transpose(b, r, [1, 0, 2, 3], `${h}/kernel`);
    } else {
      // One image whose channels are (c, n) pairs; group c convolves X[:, c] with dY[:, c·m .. c·m+m−1].
      xt = reshape(b, xt, [1, -1, g.inSize[0], g.inSize[1]], `${h}/x_grouped`);
      const r = kernelGradConv(b, `${h}/depthwise_kernel`, xt, dyt, g, channels);
      weights.depthwise_kernel = reshape(b, r, [channels * multiplier, 1, g.kernel[0], g.kernel[1]], `${h}/depthwise_kernel`);
    }
  }
  const dx = ctx.needInput[0] ? inputGrad(b, `${h}/input`, dPre, w, g, group) : undefined;
  return { inputs: [dx ? { name: dx, layout: 'nchw', shape: ctx.inputs[0].shape } : undefined], weights };
}

export const conv2dRule: LayerRule<ConvSaved, Conv2DConfig> = {
  unsupported: (layer, inShapes) => spatialProblem(inShapes) ?? trainingActivationProblem(layer.config.activation),
  forward: (ctx) => convForward(ctx, false),
  backward: convBackward,
};

export const depthwiseRule: LayerRule<ConvSaved, DepthwiseConv2DConfig> = {
  unsupported(layer, inShapes) {
    // tfjs ignores DepthwiseConv2D's dilation_rate; the ONNX export refuses such layers, and so does training.
    const d = layer.config.dilationRate;
    if (d[0] !== 1 || d[1] !== 1) return `dilation_rate [${d}] (tfjs ignores it in DepthwiseConv2D)`;
    return spatialProblem(inShapes) ?? trainingActivationProblem(layer.config.activation);
  },
  forward: (ctx) => convForward(ctx, true),
  backward: convBackward,
};

/** Conv1D kernel [k, in, out] is trained as [out, in, 1, k]: the 2-D layout with height 1 (same values as [out, in, k]). */
function conv1dKernelLayout(shape: number[]): WeightLayout {
  const [k, cin, cout] = shape as [number, number, number];
  return {
    shape: [cout, cin, 1, k],
    toTrain: (v) => transposeValues(v, shape, [2, 1, 0]),
    toIR: (v) => transposeValues(v, [cout, cin, k], [2, 1, 0]),
  };
}

/** [N, steps, C] held as [N, C, steps], viewed as the image [N, C, 1, steps]: Conv2D's rule does the rest. */
export const conv1dRule: LayerRule<ConvSaved, Conv1DConfig> = {
  unsupported(layer, inShapes) {
    const s = inShapes[0]!;
    if (s.slice(1).some((d) => d === null)) return `input shape [${s}] (needs fixed steps and channels)`;
    return trainingActivationProblem(layer.config.activation);
  },
  forward(ctx) {
    const { b, layer } = ctx;
    const x3 = b.inLayout(ctx.inputs[0]!, 'nchw');
    const x = b.op('Unsqueeze', [x3.name, b.int64Const(`${layer.name}/height_axis`, [2])], {}, `${layer.name}/as_image`);
    const stored = requireWeight(layer, 'kernel');
    const w = ctx.weights.weight('kernel', conv1dKernelLayout(stored.shape));
    const { kernelSize: [k], strides: [s], dilationRate: [d], padding } = layer.config;
    const steps = x3.shape[1] as number;
    const [before, after] = padding === 'causal' ? [(k - 1) * d, 0] : padding === 'same' ? samePads(steps, k, s, d) : [0, 0];
    const g: Geometry = { kernel: [1, k], strides: [1, s], dilations: [1, d], pads: [0, before, 0, after], inSize: [1, steps], outSize: [1, ctx.outShape[1] as number] };
    const inputs = [x, w];
    if (layer.config.useBias) inputs.push(ctx.weights.weight('bias', asStored(requireWeight(layer, 'bias').shape)));
    const y4 = b.op('Conv', inputs, convAttrs(g, 1), `${layer.name}/conv`);
    const y = b.op('Squeeze', [y4, b.int64Const(`${layer.name}/squeeze_axis`, [2])], {}, `${layer.name}/conv_1d`);
    return {
      pre: { name: y, layout: 'nchw', shape: ctx.outShape },
      activation: trainingActivation(layer.config.activation)!,
      saved: { x, w, g, channels: stored.shape[1]! },
    };
  },
  backward(ctx) {
    const { b, layer } = ctx;
    const h = `${layer.name}/grad`;
    const dPre = b.op('Unsqueeze', [ctx.dPre, b.int64Const(`${h}/height_axis`, [2])], {}, `${h}/dy_image`);
    const result = convBackward({ ...ctx, dPre } as BackwardContext<ConvSaved>);
    const dx4 = result.inputs[0];
    const dx = dx4 && b.op('Squeeze', [dx4.name, b.int64Const(`${h}/squeeze_axis`, [2])], {}, `${h}/input_1d`);
    return { inputs: [dx ? { name: dx, layout: 'nchw', shape: ctx.inputs[0]!.shape } : undefined], weights: result.weights };
  },
};
