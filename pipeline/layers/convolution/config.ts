/**
 * Typed configs of the convolution classes, with tfjs-layers' defaults (BaseConv, Conv, DepthwiseConv2D,
 * SeparableConv, Conv2DTranspose, Conv1D in convolutional.ts). Keras options tfjs does not implement — grouped
 * convolution, dilated or output-padded transposed convolution — are refused: tfjs would silently compute
 * something else.
 */
import type { ActivationName } from '../activations/names.ts';
import { activation, bool, channelsLast, int, intTuple, oneOf } from '../config.ts';
import type { Padding } from '../window.ts';
import type { KerasConfig, KerasValue, LayerConfig } from '../types.ts';

export type Pair = [number, number];

/** What every 2-D convolution shares. */
export interface Conv2DBase extends LayerConfig {
  kernelSize: Pair;
  strides: Pair;
  padding: Padding;
  dataFormat: 'channels_last';
  activation: ActivationName;
  useBias: boolean;
}

export interface Conv2DConfig extends Conv2DBase {
  filters: number;
  dilationRate: Pair;
}

export interface DepthwiseConv2DConfig extends Conv2DBase {
  depthMultiplier: number;
  /** Read and kept, but tfjs's DepthwiseConv2D ignores it (it passes no dilation to the op). */
  dilationRate: Pair;
}

export interface SeparableConv2DConfig extends Conv2DBase {
  filters: number;
  depthMultiplier: number;
  dilationRate: Pair;
}

export type Conv2DTransposeConfig = Conv2DBase & { filters: number };

export interface Conv1DConfig extends LayerConfig {
  filters: number;
  kernelSize: [number];
  strides: [number];
  /** 'causal': left-padded by (kernel − 1)·dilation, output as long as the input. */
  padding: Padding | 'causal';
  dataFormat: 'channels_last';
  dilationRate: [number];
  activation: ActivationName;
  useBias: boolean;
}

const CAUSAL_2D = { causal: 'causal padding exists only for 1-D convolutions; use same or valid' };

function base2d() {
  return {
    kernelSize: intTuple('kernel_size', 2),
    strides: intTuple('strides', 2, { default: [1, 1] }),
    padding: oneOf<Padding>('padding', ['valid', 'same'], 'valid', CAUSAL_2D),
    dataFormat: channelsLast(),
    activation: activation(),
    useBias: bool('use_bias', true),
  };
}

export const conv2dFields = {
  filters: int('filters'),
  ...base2d(),
  dilationRate: intTuple('dilation_rate', 2, { default: [1, 1] }),
};

export const depthwiseFields = {
  ...base2d(),
  depthMultiplier: int('depth_multiplier', { default: 1 }),
  dilationRate: intTuple('dilation_rate', 2, { default: [1, 1] }),
};

export const separableFields = {
  filters: int('filters'),
  ...base2d(),
  depthMultiplier: int('depth_multiplier', { default: 1 }),
  dilationRate: intTuple('dilation_rate', 2, { default: [1, 1] }),
};

export const transposeFields = { filters: int('filters'), ...base2d() };

export const conv1dFields = {
  filters: int('filters'),
  kernelSize: intTuple('kernel_size', 1),
  strides: intTuple('strides', 1, { default: [1] }),
  padding: oneOf<Padding | 'causal'>('padding', ['valid', 'same', 'causal'], 'valid'),
  dataFormat: channelsLast(),
  dilationRate: intTuple('dilation_rate', 1, { default: [1] }),
  activation: activation(),
  useBias: bool('use_bias', true),
};

type Fail = (key: string, message: string, unsupported?: boolean) => never;

/** TF refuses strides > 1 together with dilation > 1. */
export function checkStridesOrDilation(c: { strides: number[]; dilationRate: number[] }, fail: Fail): void {
  if (c.strides.some((s) => s > 1) && c.dilationRate.some((d) => d > 1)) {
    fail('dilation_rate', `[${c.dilationRate}] with strides [${c.strides}]: TensorFlow supports dilation only with stride 1`);
  }
}

const ones = (v: KerasValue) => v === 1 || (Array.isArray(v) && v.every((x) => x === 1));

/**
 * Keras options tfjs does not implement (it ignores them): accepted only absent or at their neutral value (`groups`
 * and `dilation_rate` 1; `output_padding` only absent), since otherwise tfjs computes something else than Keras.
 */
export const UNIMPLEMENTED: Record<string, (v: KerasValue) => boolean> = {
  groups: ones,
  dilation_rate: ones,
  output_padding: () => false,
};

export function checkUnimplemented(raw: KerasConfig, keys: string[], fail: Fail): void {
  for (const key of keys) {
    const v = raw[key];
    if (v !== undefined && v !== null && !UNIMPLEMENTED[key]!(v)) fail(key, `${JSON.stringify(v)} is not supported: tfjs does not implement ${key}`, true);
  }
}
