/**
 * onnxruntime training rules of the pooling layers. MaxPooling2D's gradient is exact as TF's: MaxPool's second output holds, per window, the flat index of
 * its first maximum (onnxruntime keeps the first on ties, as TF does), and dY is scatter-added to those indices — a
 * comparison mask would instead route a tied window's gradient to every maximum. AveragePooling2D spreads
 * dY / (cells counted in its window; TF's 'same' pooling counts only real cells) over the window with a grouped
 * ConvTranspose of ones. GlobalAveragePooling2D broadcasts dY / (H·W) back over the spatial axes.
 */
import { onnxAxis, type Dim, type GraphBuilder } from '../../onnx/builder.ts';
import { maskGrad, mul, reshape, scalar } from '../../train/ort/ops.ts';
import type { LayerRule } from '../../train/ort/rule.ts';
import type { LayerConfig } from '../types.ts';
import { windowPads } from '../window.ts';
import type { Pool2DConfig } from './index.ts';

interface WindowGeometry {
  kernel: [number, number];
  strides: [number, number];
  pads: number[];
}

function windowProblem(inShapes: Dim[][]): string | undefined {
  const s = inShapes[0]!;
  if (s.length !== 4 || s.slice(1).some((d) => d === null)) return `input shape [${s}] (needs a fixed H, W, C)`;
  return undefined;
}

function windowGeometry(c: Pool2DConfig, inShape: Dim[]): WindowGeometry {
  const kernel: [number, number] = [...c.poolSize];
  const strides: [number, number] = [...c.strides];
  const pads = windowPads(c.padding, [inShape[1] as number, inShape[2] as number], kernel, strides);
  return { kernel, strides, pads };
}

function poolAttrs(g: WindowGeometry) {
  return { kernel_shape: { ints: g.kernel }, strides: { ints: g.strides }, pads: { ints: g.pads } };
}

interface MaxSaved {
  x: string;
  g: WindowGeometry;
  inSize: [number, number];
  outSize: [number, number];
  /** MaxPool's Indices output (flat, first maximum per window) when the forward produced it. */
  indices?: string;
}

/** Windows that tile the input exactly from the top-left corner: no overlap, no padding. */
function isTiling(g: WindowGeometry): boolean {
  return g.strides[0] === g.kernel[0] && g.strides[1] === g.kernel[1] && g.pads.every((p) => p === 0);
}

function int64Scalar(b: GraphBuilder, hint: string, value: number): string {
  return b.op('Squeeze', [b.int64Const(`${hint}/value`, [value])], {}, hint);
}

/**
 * Flat indices (into the whole [N, C, H, W] input) of each tiling window's first maximum, without MaxPool's
 * Indices output (onnxruntime's indexed MaxPool is ~10x slower than the plain one): the windows are made
 * contiguous ([N, C, Ho, Wo, kh·kw], row-major within the window, TF's scan order) and ArgMax keeps the first
 * maximum. k = u·kw + v becomes u·W + v, plus the window's corner and the sample/channel plane offsets.
 */
function tilingArgmax(b: GraphBuilder, h: string, x: string, saved: MaxSaved, channels: number): string {
  const { g, inSize: [H, W], outSize: [Ho, Wo] } = saved;
  const [kh, kw] = g.kernel;
  let windows = x;
  if (Ho * kh !== H || Wo * kw !== W) {
    // 'valid' pooling drops the rows/columns no window reaches.
    windows = b.op('Slice', [x, b.int64Const(`${h}/crop_starts`, [0, 0]), b.int64Const(`${h}/crop_ends`, [Ho * kh, Wo * kw]), b.int64Const(`${h}/crop_axes`, [2, 3])], {}, `${h}/crop`);
  }
  const split = reshape(b, windows, [0, channels, Ho, kh, Wo, kw], `${h}/windows6`);
  const grouped = reshape(b, b.op('Transpose', [split], { perm: { ints: [0, 1, 2, 4, 3, 5] } }, `${h}/windows_t`), [0, channels, Ho, Wo, kh * kw], `${h}/windows`);
  const k = b.op('Cast', [b.op('ArgMax', [grouped], { axis: { i: 4 }, keepdims: { i: 0 } }, `${h}/argmax`)], { to: { i: 1 } }, `${h}/k`);
  // Offsets within a window are below kh·W, exact in float32.
  const u = b.op('Floor', [mul(b, k, scalar(b, `${h}/inv_kw`, 1 / kw), `${h}/k_div_kw`)], {}, `${h}/u`);
  const local = b.op('Cast', [b.op('Add', [k, mul(b, u, scalar(b, `${h}/w_minus_kw`, W - kw), `${h}/u_rows`)], {}, `${h}/offset_f`)], { to: { i: 7 } }, `${h}/offset`);
  const corners = Array.from({ length: channels * Ho * Wo }, (_, q) => {
    const c = Math.floor(q / (Ho * Wo));
    const i = Math.floor(q / Wo) % Ho;
    const j = q % Wo;
    return (c * H + i * kh) * W + j * kw;
  });
  const plane = b.op('Reshape', [b.int64Const(`${h}/corners`, corners), b.int64Const(`${h}/corners_shape`, [1, channels, Ho, Wo])], {}, `${h}/corner_plane`);
  const n = b.op('Gather', [b.op('Shape', [x], {}, `${h}/x_shape_n`), int64Scalar(b, `${h}/axis0`, 0)], { axis: { i: 0 } }, `${h}/n`);
  const samples = b.op('Range', [int64Scalar(b, `${h}/zero`, 0), n, int64Scalar(b, `${h}/one`, 1)], {}, `${h}/samples`);
  const sampleBase = b.op('Mul', [reshape(b, samples, [-1, 1, 1, 1], `${h}/samples4`), b.int64Const(`${h}/sample_size`, [channels * H * W])], {}, `${h}/sample_base`);
  return b.op('Add', [b.op('Add', [local, plane], {}, `${h}/in_sample`), sampleBase], {}, `${h}/flat_index`);
}

export const maxPooling2dRule: LayerRule<MaxSaved, Pool2DConfig> = {
  unsupported: (_layer, inShapes) => windowProblem(inShapes),
  forward({ b, layer, inputs, outShape }) {
    const x = b.inLayout(inputs[0]!, 'nchw');
    const g = windowGeometry(layer.config, x.shape);
    const [, H, W] = x.shape as number[];
    const saved: MaxSaved = { x: x.name, g, inSize: [H, W], outSize: [outShape[1] as number, outShape[2] as number] };
    let y: string;
    if (isTiling(g)) {
      y = b.op('MaxPool', [x.name], poolAttrs(g), `${layer.name}/max_pool`);
    } else {
      [y, saved.indices] = b.opMulti('MaxPool', [x.name], poolAttrs(g), [`${layer.name}/max_pool`, `${layer.name}/argmax`]);
    }
    return { pre: { name: y, layout: 'nchw', shape: outShape }, activation: { kind: 'linear' }, saved };
  },
  backward({ b, layer, inputs, forward, dPre, needInput, producer }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const h = `${layer.name}/grad`;
    const saved = forward.saved;
    const channels = inputs[0].shape[3] as number;
    let dy = dPre;
    // A relu producer's gradient mask can be applied here, per window, instead of per input cell: the routed
    // cell is the window's maximum, so its pre-activation is positive exactly when the window's output is.
    const throughRelu = producer[0]?.kind === 'relu' && producer[0].max === undefined;
    if (throughRelu) dy = maskGrad(b, b.op('Greater', [forward.pre.name, scalar(b, `${h}/zero_f`, 0)], {}, `${h}/positive`), dPre, `${h}/dy_relu`);
    const shape = b.op('Shape', [saved.x], {}, `${h}/x_shape`);
    const overlapping = saved.g.strides[0] < saved.g.kernel[0] || saved.g.strides[1] < saved.g.kernel[1];
    let dx: string;
    if (overlapping) {
      // A cell can be the maximum of several windows: scatter-add.
      const zeros = reshape(b, b.op('ConstantOfShape', [shape], {}, `${h}/zeros`), [-1], `${h}/zeros_flat`);
      const scattered = b.op('ScatterElements', [zeros, reshape(b, saved.indices!, [-1], `${h}/indices_flat`), reshape(b, dy, [-1], `${h}/dy_flat`)],
        { axis: { i: 0 }, reduction: { s: 'add' } }, `${h}/scatter`);
      dx = b.op('Reshape', [scattered, shape], {}, `${h}/input`);
    } else {
      const indices = saved.indices ?? tilingArgmax(b, h, saved.x, saved, channels);
      dx = b.op('MaxUnpool', [dy, indices, shape], poolAttrs(saved.g), `${h}/input`);
    }
    return { inputs: [{ name: dx, layout: 'nchw', shape: inputs[0].shape, throughActivation: throughRelu }], weights: {} };
  },
};

interface AvgSaved {
  g: WindowGeometry;
  channels: number;
  inSize: [number, number];
  outSize: [number, number];
}

/** How many real (unpadded) input cells each output window covers, row-major over [Ho, Wo]. */
function windowCounts(g: WindowGeometry, inSize: [number, number], outSize: [number, number]): Float32Array {
  const counts = new Float32Array(outSize[0] * outSize[1]);
  const covered = (o: number, axis: 0 | 1) => {
    const start = o * g.strides[axis] - g.pads[axis];
    return Math.min(start + g.kernel[axis], inSize[axis]) - Math.max(start, 0);
  };
  for (let i = 0; i < outSize[0]; i++) for (let j = 0; j < outSize[1]; j++) counts[i * outSize[1] + j] = covered(i, 0) * covered(j, 1);
  return counts;
}

export const averagePooling2dRule: LayerRule<AvgSaved, Pool2DConfig> = {
  unsupported: (_layer, inShapes) => windowProblem(inShapes),
  forward({ b, layer, inputs, outShape }) {
    const x = b.inLayout(inputs[0]!, 'nchw');
    const g = windowGeometry(layer.config, x.shape);
    // TF's 'same' average pooling divides by the number of real (unpadded) inputs in the window.
    const y = b.op('AveragePool', [x.name], { ...poolAttrs(g), count_include_pad: { i: 0 } }, `${layer.name}/avg_pool`);
    const [, h, w, c] = x.shape as number[];
    return {
      pre: { name: y, layout: 'nchw', shape: outShape },
      activation: { kind: 'linear' },
      saved: { g, channels: c, inSize: [h, w], outSize: [outShape[1] as number, outShape[2] as number] },
    };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const h = `${layer.name}/grad`;
    const { g, channels, inSize, outSize } = forward.saved;
    const counts = windowCounts(g, inSize, outSize);
    const uniform = counts.every((c) => c === counts[0]);
    const inverse = uniform
      ? scalar(b, `${h}/inv_count`, 1 / counts[0])
      : b.floatConst(`${h}/inv_counts`, outSize, counts.map((c) => 1 / c));
    const scaled = mul(b, dPre, inverse, `${h}/scaled`);
    const ones = b.floatConst(`${h}/ones`, [channels, 1, ...g.kernel], new Float32Array(channels * g.kernel[0] * g.kernel[1]).fill(1));
    const extra = ([0, 1] as const).map((a) => (inSize[a] + g.pads[a] + g.pads[a + 2] - g.kernel[a]) % g.strides[a]);
    const dx = b.op('ConvTranspose', [scaled, ones], {
      ...poolAttrs(g), group: { i: channels }, output_padding: { ints: extra },
    }, `${h}/input`);
    return { inputs: [{ name: dx, layout: 'nchw', shape: inputs[0].shape }], weights: {} };
  },
};

interface GlobalSaved {
  x: string;
  y: string;
  /** ONNX axes reduced over: every axis between the batch and the channels. */
  axes: number[];
  /** Expand target: the input's spatial sizes at their axes, 1 elsewhere. */
  spread: number[];
  area: number;
}

function globalForward(op: 'ReduceMean' | 'ReduceMax'): LayerRule<GlobalSaved, LayerConfig>['forward'] {
  return ({ b, layer, inputs, outShape }) => {
    const x = inputs[0]!;
    const rank = x.shape.length;
    const axes = Array.from({ length: rank - 2 }, (_, i) => onnxAxis(i + 1, rank, x.layout));
    const y = b.op(op, [x.name], { axes: { ints: axes }, keepdims: { i: 0 } }, `${layer.name}/${op === 'ReduceMean' ? 'mean' : 'max'}`);
    const spread = new Array<number>(rank).fill(1);
    axes.forEach((a, i) => (spread[a] = x.shape[i + 1] as number));
    const area = axes.reduce((n, a) => n * spread[a]!, 1);
    return { pre: { name: y, layout: 'keras', shape: outShape }, activation: { kind: 'linear' }, saved: { x: x.name, y, axes, spread, area } };
  };
}

function fixedSpatial(_layer: unknown, inShapes: Dim[][]): string | undefined {
  const s = inShapes[0]!;
  if (s.length < 3 || s.length > 4 || s.slice(1).some((d) => d === null)) return `input shape [${s}] (needs fixed sizes, rank 3 or 4)`;
  return undefined;
}

/** Global average pooling (1-D or 2-D): dY / (cells pooled) broadcast back over the pooled axes. */
export const globalAveragePoolingRule: LayerRule<GlobalSaved, LayerConfig> = {
  unsupported: fixedSpatial,
  forward: globalForward('ReduceMean'),
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const h = `${layer.name}/grad`;
    const { axes, spread, area } = forward.saved;
    const scaled = mul(b, dPre, scalar(b, `${h}/inv_area`, 1 / area), `${h}/scaled`);
    const unsqueezed = b.op('Unsqueeze', [scaled, b.int64Const(`${h}/axes`, axes)], {}, `${h}/unsqueezed`);
    const dx = b.op('Expand', [unsqueezed, b.int64Const(`${h}/spread`, spread)], {}, `${h}/input`);
    return { inputs: [{ name: dx, layout: inputs[0]!.layout, shape: inputs[0]!.shape }], weights: {} };
  },
};

/**
 * Global max pooling (1-D or 2-D) with tfjs's gradient of a max reduction: dY goes to every cell equal to the
 * maximum (all of them on a tie), which a mask of x == max reproduces exactly.
 */
export const globalMaxPoolingRule: LayerRule<GlobalSaved, LayerConfig> = {
  unsupported: fixedSpatial,
  forward: globalForward('ReduceMax'),
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const h = `${layer.name}/grad`;
    const { x, y, axes } = forward.saved;
    const axesConst = b.int64Const(`${h}/axes`, axes);
    const isMax = b.op('Equal', [x, b.op('Unsqueeze', [y, axesConst], {}, `${h}/max`)], {}, `${h}/is_max`);
    const dx = maskGrad(b, isMax, b.op('Unsqueeze', [dPre, axesConst], {}, `${h}/dy`), `${h}/input`);
    return { inputs: [{ name: dx, layout: inputs[0]!.layout, shape: inputs[0]!.shape }], weights: {} };
  },
};
