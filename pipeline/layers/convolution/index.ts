/**
 * The convolution family: Conv1D, Conv2D, DepthwiseConv2D, SeparableConv2D, Conv2DTranspose (channels_last).
 *
 * Shapes follow tfjs (conv_utils): DepthwiseConv2D ignores its dilation_rate, as tfjs's layer does; SeparableConv2D
 * uses it. MACs count one per weight use, biases excluded:
 *   Conv2D           outH·outW·outC · kh·kw · inC          Conv1D  outL·outC · k · inC
 *   DepthwiseConv2D  outH·outW · inC·m · kh·kw             Conv2DTranspose  inH·inW·inC · kh·kw · outC
 *   SeparableConv2D  the depthwise part + outH·outW · inC·m · outC (pointwise)
 * Pruning: every class but DepthwiseConv2D produces its own output channels (filters); DepthwiseConv2D passes its
 * input's channels through, each repeated `depth_multiplier` times.
 */
import { rewrite } from '../layer.ts';
import { kernelProducer, producerChannels } from '../producer.ts';
import { inputOfRank, prod, repeatEach } from '../shared.ts';
import { defineLayer, type ChannelContext, type KerasConfig, type LayerConfig, type LayerClass, type Shape, type WeightSpec } from '../types.ts';
import { convOutputLength, deconvLength } from '../window.ts';
import {
  checkStridesOrDilation, checkUnimplemented, conv1dFields, conv2dFields, depthwiseFields, separableFields, transposeFields,
  type Conv1DConfig, type Conv2DConfig, type Conv2DTransposeConfig, type DepthwiseConv2DConfig, type SeparableConv2DConfig,
} from './config.ts';
import { conv1dGeometry, conv2dGeometry, im2col } from './im2col.ts';
import { conv1dOnnx, conv2dOnnx, conv2dTransposeOnnx, depthwiseOnnx, separableOnnx } from './onnx.ts';
import { conv2dTflite, conv2dTransposeTflite, depthwiseTflite, separableTflite } from './tflite.ts';
import { conv1dRule, conv2dRule, depthwiseRule } from './train.ts';

const bias = (useBias: boolean, n: number): WeightSpec[] => (useBias ? [{ name: 'bias', shape: [n] }] : []);
const channelsOf = (s: Shape) => s[s.length - 1]!;
/** Every output position of every sample in `x`. */
const allPositions = (x: Float32Array, inShape: Shape, out: number[]) => Array.from({ length: (x.length / prod(inShape)) * prod(out) }, (_, i) => i);

/** Output [H', W'] of a 2-D window over [H, W]. */
function spatial2d(c: { kernelSize: number[]; padding: 'valid' | 'same'; strides: number[] }, [h, w]: Shape, dilation: number[]): Shape {
  return [convOutputLength(h!, c.kernelSize[0]!, c.padding, c.strides[0]!, dilation[0]), convOutputLength(w!, c.kernelSize[1]!, c.padding, c.strides[1]!, dilation[1])];
}

/** TF's stride-or-dilation rule, and no Keras `groups` (tfjs has no grouped convolution). */
function checkConv(c: { strides: number[]; dilationRate: number[] }, fail: Parameters<NonNullable<LayerClass['check']>>[1], keras: KerasConfig): void {
  checkStridesOrDilation(c, fail);
  checkUnimplemented(keras, ['groups'], fail);
}

const finalActivation = (c: { activation: Conv2DConfig['activation'] }) => ({ name: c.activation, fused: true });

export const conv2d: LayerClass<Conv2DConfig> = defineLayer<Conv2DConfig>({
  className: 'Conv2D',
  family: 'convolution',
  arity: 'one',
  fields: conv2dFields,
  check: checkConv,
  weights: ({ config: c }, [input]) => [{ name: 'kernel', shape: [...c.kernelSize, channelsOf(input!), c.filters] }, ...bias(c.useBias, c.filters)],
  outputShape: (layer, inputs) => [...spatial2d(layer.config, inputOfRank(layer, inputs, 3), layer.config.dilationRate), layer.config.filters],
  macs: ({ config: c }, [input], output) => prod(output) * c.kernelSize[0] * c.kernelSize[1] * channelsOf(input!),
  ...kernelProducer(() => conv2d, 'filters', 2, 3),
  onnx: conv2dOnnx,
  tflite: conv2dTflite,
  ort: conv2dRule,
  linearRows: {
    positions: (c, inShape) => prod(conv2dGeometry(c, inShape).out),
    rows: (c, x, inShape, positions) => im2col(x, inShape as [number, number, number], conv2dGeometry(c, inShape), positions ?? allPositions(x, inShape, conv2dGeometry(c, inShape).out)),
    sampled: true,
  },
});

/** A depthwise kernel [kh, kw, C, m] viewed as [kh, kw, C·m]: output channel c·m + j on axis 2. */
const depthwiseAxis = (w: WeightSpec) => ({ shape: [w.shape[0]!, w.shape[1]!, w.shape[2]! * w.shape[3]!], axis: 2 });

export const depthwiseConv2d = defineLayer<DepthwiseConv2DConfig>({
  className: 'DepthwiseConv2D',
  family: 'convolution',
  arity: 'one',
  fields: depthwiseFields,
  weights: ({ config: c }, [input]) => [
    { name: 'depthwise_kernel', shape: [...c.kernelSize, channelsOf(input!), c.depthMultiplier] },
    ...bias(c.useBias, channelsOf(input!) * c.depthMultiplier),
  ],
  // tfjs's DepthwiseConv2D ignores dilation_rate (in its output shape and its computation); follow the runtime.
  outputShape: (layer, inputs) => {
    const input = inputOfRank(layer, inputs, 3);
    return [...spatial2d(layer.config, input, [1, 1]), channelsOf(input) * layer.config.depthMultiplier];
  },
  macs: ({ config: c }, _inputs, output) => prod(output) * c.kernelSize[0] * c.kernelSize[1],
  channels(ctx) {
    const input = ctx.input();
    const out = repeatEach(input, ctx.layer.config.depthMultiplier);
    ctx.bind('depthwise_kernel', 2, input, 'through');
    ctx.bind('bias', 0, out, 'through', true);
    return out;
  },
  onnx: depthwiseOnnx,
  tflite: depthwiseTflite,
  ort: depthwiseRule,
  quantizationAxis: (_l, w) => (w.name === 'depthwise_kernel' ? depthwiseAxis(w) : undefined),
  linearKernel: 'depthwise_kernel',
  finalActivation,
});

export const separableConv2d: LayerClass<SeparableConv2DConfig> = defineLayer<SeparableConv2DConfig>({
  className: 'SeparableConv2D',
  family: 'convolution',
  arity: 'one',
  fields: separableFields,
  check: (c, fail) => checkStridesOrDilation(c, fail),
  weights: ({ config: c }, [input]) => [
    { name: 'depthwise_kernel', shape: [...c.kernelSize, channelsOf(input!), c.depthMultiplier] },
    { name: 'pointwise_kernel', shape: [1, 1, channelsOf(input!) * c.depthMultiplier, c.filters] },
    ...bias(c.useBias, c.filters),
  ],
  outputShape: (layer, inputs) => [...spatial2d(layer.config, inputOfRank(layer, inputs, 3), layer.config.dilationRate), layer.config.filters],
  macs({ config: c }, [input], output) {
    const spatial = output[0]! * output[1]!;
    const mid = channelsOf(input!) * c.depthMultiplier;
    return spatial * mid * c.kernelSize[0] * c.kernelSize[1] + spatial * mid * output[2]!;
  },
  channels: (ctx) => producerChannels(ctx, ctx.layer.config.filters, (input, out) => {
    ctx.bind('depthwise_kernel', 2, input, 'in');
    ctx.bind('pointwise_kernel', 2, repeatEach(input, ctx.layer.config.depthMultiplier), 'in');
    ctx.bind('pointwise_kernel', 3, out, 'out');
  }),
  withOutputChannels: (layer, filters) => rewrite(separableConv2d, layer, { filters }),
  completeFromWeights(layer) {
    const m = layer.weights.find((w) => w.name === 'depthwise_kernel')?.shape[3];
    const written = layer.keras.depth_multiplier;
    return m !== undefined && m !== layer.config.depthMultiplier && (written === undefined || written === null) ? rewrite(separableConv2d, layer, { depthMultiplier: m }) : undefined;
  },
  onnx: separableOnnx,
  tflite: separableTflite,
  ort: 'no ORT training rule for SeparableConv2D',
  quantizationAxis(_l, w) {
    if (w.name === 'depthwise_kernel') return depthwiseAxis(w);
    return w.name === 'pointwise_kernel' ? { shape: w.shape, axis: 3 } : undefined;
  },
  linearKernel: 'pointwise_kernel',
  finalActivation,
});

export const conv2dTranspose: LayerClass<Conv2DTransposeConfig> = defineLayer<Conv2DTransposeConfig>({
  className: 'Conv2DTranspose',
  family: 'convolution',
  arity: 'one',
  fields: transposeFields,
  // tfjs's Conv2DTranspose has neither dilation nor output padding (it drops both from its config).
  check: (_c, fail, keras) => checkUnimplemented(keras, ['dilation_rate', 'output_padding', 'groups'], fail),
  weights: ({ config: c }, [input]) => [{ name: 'kernel', shape: [...c.kernelSize, c.filters, channelsOf(input!)] }, ...bias(c.useBias, c.filters)],
  outputShape(layer, inputs) {
    const [h, w] = inputOfRank(layer, inputs, 3);
    const c = layer.config;
    return [deconvLength(h!, c.strides[0], c.kernelSize[0], c.padding), deconvLength(w!, c.strides[1], c.kernelSize[1], c.padding), c.filters];
  },
  macs: ({ config: c }, [input], output) => prod(input!) * c.kernelSize[0] * c.kernelSize[1] * channelsOf(output),
  ...kernelProducer(() => conv2dTranspose, 'filters', 3, 2),
  onnx: conv2dTransposeOnnx,
  tflite: conv2dTransposeTflite,
  ort: 'no ORT training rule for Conv2DTranspose',
});

export const conv1d: LayerClass<Conv1DConfig> = defineLayer<Conv1DConfig>({
  className: 'Conv1D',
  family: 'convolution',
  arity: 'one',
  fields: conv1dFields,
  check: checkConv,
  weights: ({ config: c }, [input]) => [{ name: 'kernel', shape: [c.kernelSize[0], channelsOf(input!), c.filters] }, ...bias(c.useBias, c.filters)],
  outputShape(layer, inputs) {
    const [steps] = inputOfRank(layer, inputs, 2);
    const c = layer.config;
    return [convOutputLength(steps!, c.kernelSize[0], c.padding, c.strides[0], c.dilationRate[0]), c.filters];
  },
  macs: ({ config: c }, [input], output) => prod(output) * c.kernelSize[0] * channelsOf(input!),
  ...kernelProducer(() => conv1d, 'filters', 1, 2),
  onnx: conv1dOnnx,
  ort: conv1dRule,
  linearRows: {
    positions: (c, inShape) => prod(conv1dGeometry(c, inShape).out),
    rows: (c, x, [steps, channels], positions) => im2col(x, [1, steps!, channels!], conv1dGeometry(c, [steps!]), positions ?? allPositions(x, [steps!, channels!], conv1dGeometry(c, [steps!]).out)),
    sampled: true,
  },
});

export const convolutionLayers = {
  Conv1D: conv1d,
  Conv2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d,
  Conv2DTranspose: conv2dTranspose,
} satisfies Record<string, LayerClass<any>>;
