/**
 * Activation calibration — the one module that measures the ranges quantised activations are scaled by, for every
 * writer that quantises activations (the TFLite int8 writer today; the quantize stage's ONNX QDQ writer next). Its
 * result is `ModelIR.calibration` (ActivationCalibration, documented in ir.ts), the one representation those
 * writers consume. Interface (onnxruntime's calibrate.py shape: collect statistics → compute ranges):
 *
 * - `calibrationView(ir)`: which tensors have ranges. Every layer output, plus `<layer>/preactivation` — the linear
 *   part of a layer whose own `activation` option the writer cannot fuse (sigmoid, softmax, …) — and
 *   `<layer>/depthwise`, the first half of a SeparableConv2D, and the running results of merges of more than two
 *   inputs (`<layer>/partial<i>`, an Average's `<layer>/sum`): the tensors a quantised export materialises.
 * - `calibrateActivations(ir, samples, options)`: runs that view on the samples (batch by batch, on the fastest
 *   engine) and returns an ActivationCalibration stamped with the model's digest. Methods are a registry
 *   (CALIBRATION_METHODS: an observer that sees every batch of every tensor, then reports its range); `minmax` is
 *   the reference one. A new method is one more entry there and in `calibrationOptions`.
 * - `calibrationOptions`: the option schema a stage or format exposes to users (`{ method, percentile, samples }`).
 * - `calibrationSamples(train, count, seed)`: the seeded draw from the training split (never validation or test).
 * - `currentCalibration(ir)`: the IR's calibration if it was measured on this very model, else undefined (a later
 *   stage changed the model: consumers recalibrate rather than use stale ranges).
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { openActivationReader, type ActivationEngine } from './calibrate.ts';
import { batches, subset } from './data/splits.ts';
import type { LabelledSet } from './data/types.ts';
import { inferShapes } from './graph/shapes.ts';
import {
  averageSumKey, mergePartialKey, preactivationKey, separableDepthwiseKey, type ActivationCalibration, type ActivationRange, type LayerIR, type ModelIR,
} from './ir.ts';
import type { SeparableConv2DConfig } from './layers/convolution/config.ts';
import { classOf, isClass, layerFromKeras } from './layers/registry.ts';
import type { KerasConfig } from './layers/types.ts';
import { createRng, deriveSeed, permutation } from './random.ts';
import { EntropyObserver, MinMaxObserver, PercentileObserver, type RangeObserver } from './range-observers.ts';

function weight(layer: LayerIR, name: string) {
  const w = layer.weights.find((x) => x.name === name);
  if (!w) throw new Error(`layer "${layer.name}" has no weight "${name}"`);
  return w;
}

/**
 * A SeparableConv2D as its depthwise half (`<layer>/depthwise`) → a 1×1 Conv2D (the layer's name, pointwise kernel,
 * bias, activation). The depthwise half stays a SeparableConv2D with an identity pointwise kernel and no bias: tfjs's
 * DepthwiseConv2D ignores dilation, SeparableConv2D honours it, and multiplying by an identity is exact.
 */
function splitSeparable(layer: LayerIR<SeparableConv2DConfig>): LayerIR[] {
  const kernel = weight(layer, 'depthwise_kernel');
  const pointwise = weight(layer, 'pointwise_kernel');
  const channels = kernel.shape[2]! * kernel.shape[3]!;
  const identity = new Float32Array(channels * channels);
  for (let i = 0; i < channels; i++) identity[i * channels + i] = 1;
  const depthwiseName = separableDepthwiseKey(layer.name);
  const depthwise = layerFromKeras({
    name: depthwiseName,
    className: 'SeparableConv2D',
    keras: { ...layer.keras, name: depthwiseName, filters: channels, activation: 'linear', use_bias: false },
    inputs: layer.inputs,
    weights: [{ name: kernel.name, shape: [...kernel.shape], values: kernel.values }, { name: 'pointwise_kernel', shape: [1, 1, channels, channels], values: identity }],
  });
  const c = layer.config;
  const conv: KerasConfig = {
    name: layer.name, trainable: true, dtype: 'float32', filters: c.filters, kernel_size: [1, 1], strides: [1, 1], padding: 'valid',
    data_format: 'channels_last', dilation_rate: [1, 1], activation: c.activation, use_bias: c.useBias,
  };
  const bias = layer.weights.filter((w) => w.name === 'bias').map((w) => ({ name: w.name, shape: [...w.shape], values: w.values }));
  const weights = [{ name: 'kernel', shape: [...pointwise.shape], values: pointwise.values }, ...bias];
  return [depthwise, layerFromKeras({ name: layer.name, className: 'Conv2D', keras: conv, inputs: [depthwiseName], weights })];
}

/** A layer applying its own `activation` option as its linear part (`<layer>/preactivation`) → an Activation layer. */
function splitActivation(layer: LayerIR): LayerIR[] {
  const final = classOf(layer).finalActivation?.(layer.config);
  if (!final?.fused || final.name === 'linear') return [layer];
  const linearName = preactivationKey(layer.name);
  const linear = layerFromKeras({ name: linearName, className: layer.className, keras: { ...layer.keras, name: linearName, activation: 'linear' }, inputs: layer.inputs, weights: layer.weights });
  const activation = layerFromKeras({ name: layer.name, className: 'Activation', keras: { name: layer.name, trainable: true, dtype: 'float32', activation: final.name }, inputs: [linearName] });
  return [linear, activation];
}

const CHAINED_MERGES = new Set(['Add', 'Multiply', 'Maximum', 'Minimum', 'Average']);

/**
 * An element-wise merge of n inputs, preceded by side layers computing what a writer's chain of binary ops holds
 * on the way: `<layer>/partial<i>` (the merge of its first i + 1 inputs; sums for an Average) and, for an Average,
 * `<layer>/sum`. Nothing reads them: they are only observed.
 */
function withMergePartials(layer: LayerIR): LayerIR[] {
  if (!CHAINED_MERGES.has(layer.className)) return [layer];
  const average = layer.className === 'Average';
  const side = (name: string, inputs: string[]) =>
    layerFromKeras({ name, className: average ? 'Add' : layer.className, keras: { name, trainable: true, dtype: 'float32' }, inputs });
  const partials = layer.inputs.slice(2).map((_, k) => side(mergePartialKey(layer.name, k + 1), layer.inputs.slice(0, k + 2)));
  return [...partials, ...(average ? [side(averageSumKey(layer.name), [...layer.inputs])] : []), layer];
}

/** The IR whose layer outputs are every tensor a quantised export may need a range for (see the file comment). */
export function calibrationView(ir: ModelIR): ModelIR {
  const layers = ir.layers
    .flatMap((layer) => (isClass(layer, 'SeparableConv2D') ? splitSeparable(layer) : [layer]))
    .flatMap(splitActivation)
    .flatMap(withMergePartials);
  return { ...ir, layers, inputs: [...ir.inputs], outputs: [...ir.outputs] };
}

/**
 * The model a calibration describes: topology, configs and every weight's float32 values (what the model computes
 * with, so a weight re-encoded in a new storage with new values changes it). Hex sha256.
 */
export function calibrationDigest(ir: ModelIR): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify([ir.inputs, ir.outputs]));
  for (const layer of ir.layers) {
    hash.update(JSON.stringify([layer.name, layer.className, layer.inputs, layer.keras, layer.weights.map((w) => [w.name, w.shape])]));
    for (const w of layer.weights) hash.update(new Uint8Array(w.values.buffer, w.values.byteOffset, w.values.byteLength));
  }
  return hash.digest('hex');
}

/** The IR's calibration when it was measured on exactly this model; undefined when absent or stale. */
export function currentCalibration(ir: ModelIR): ActivationCalibration | undefined {
  return ir.calibration && ir.calibration.modelDigest === calibrationDigest(ir) ? ir.calibration : undefined;
}

/** Calibration method ids: each a CALIBRATION_METHODS entry. */
export const CALIBRATION_METHOD_IDS = ['minmax', 'percentile', 'entropy'] as const;

export type CalibrationMethod = (typeof CALIBRATION_METHOD_IDS)[number];

/** What users choose, wherever activations are calibrated (a stage's or a format's `calibration` option). */
export const calibrationOptions = z.strictObject({
  method: z.enum(CALIBRATION_METHOD_IDS).default('minmax')
    .describe('how a tensor\'s range is computed from its observed values: minmax (the observed extremes), percentile (clipping the rarest values) or entropy (the range whose int8 rounding loses the least information, by KL divergence)'),
  percentile: z.number().gt(50).lt(100).default(99.99).describe('percentile method: the quantile kept at each end (99.99 keeps all but the 0.01% most extreme values)'),
  samples: z.number().int().positive().default(1024).describe('training samples (a seeded draw) run through the model to observe activations'),
});

export type CalibrationOptions = z.output<typeof calibrationOptions>;

/** Calibration methods by id: a fresh observer per tensor. */
export const CALIBRATION_METHODS: Readonly<Record<CalibrationMethod, (options: CalibrationOptions) => RangeObserver>> = {
  /** The observed minimum and maximum (TF's converter and onnxruntime's default). */
  minmax: () => new MinMaxObserver(),
  percentile: (options) => new PercentileObserver(options.percentile),
  entropy: () => new EntropyObserver(),
};

/** `count` training samples in a seeded order (all of them when there are fewer): what calibration observes. */
export function calibrationSamples(train: LabelledSet, count: number, seed: number): LabelledSet {
  const order = permutation(train.count, createRng(deriveSeed(seed, 'activation-calibration')));
  return subset(train, order.slice(0, count));
}

export interface CalibrateOptions {
  method?: CalibrationMethod;
  /** percentile method: the quantile kept at each end (default 99.99). */
  percentile?: number;
  /** Samples per batch; default: as many as fit a 256 MiB activation budget, at most 256. */
  batchSize?: number;
  engine?: ActivationEngine;
}

/** Activation memory one calibration batch may hold (all observed tensors together). */
const BATCH_BYTES = 256 * 2 ** 20;

/**
 * Ranges of every tensor of calibrationView(ir) over all of `samples` (callers choose them: calibrationSamples), by
 * `method`. Deterministic for the same samples. `options.samples` is not used here (the caller drew them).
 */
export async function calibrateActivations(ir: ModelIR, samples: LabelledSet, opts: CalibrateOptions = {}): Promise<ActivationCalibration> {
  if (samples.count === 0) throw new Error('calibration needs at least one sample');
  const method = opts.method ?? 'minmax';
  const options = calibrationOptions.parse({ method, samples: samples.count, ...(opts.percentile === undefined ? {} : { percentile: opts.percentile }) });
  const view = calibrationView(ir);
  const names = view.layers.map((l) => l.name);
  const perSample = [...inferShapes(view).values()].reduce((n, s) => n + s.reduce((a, b) => a * b, 1) * 4, 0);
  const batchSize = opts.batchSize ?? Math.max(1, Math.min(256, Math.floor(BATCH_BYTES / Math.max(1, perSample))));
  const observers = new Map(names.map((n) => [n, CALIBRATION_METHODS[method](options)]));
  const reader = await openActivationReader(view, names, { engine: opts.engine ?? 'auto' });
  try {
    for (const batch of batches(samples, batchSize)) {
      const outputs = await reader.read(batch.x, batch.size, samples.sampleShape);
      for (const name of names) observers.get(name)!.observe(outputs[name]!);
    }
  } finally {
    reader.dispose();
  }
  const ranges = Object.fromEntries(names.map((n) => [n, observers.get(n)!.range()]));
  return { method, samples: samples.count, modelDigest: calibrationDigest(ir), ranges };
}
