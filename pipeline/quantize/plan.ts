/**
 * Which weights the quantize stage stores in which precision. Kernels (every weight of rank ≥ 2: convolution and
 * dense kernels, depthwise/pointwise kernels, recurrent kernels, embeddings) are quantised; biases and
 * BatchNormalization parameters and statistics (rank 1) stay float32 — they are few bytes and carry the offsets an
 * int8 kernel's error would otherwise shift. Per-channel int8 uses the axis the layer's family declares
 * (LayerClass.quantizationAxis); a weight without one is quantised per tensor.
 *
 * A weight's precision is a rung of a ladder that the fallback climbs (fallback.ts): int8 → float16 → float32 for the
 * stored codes (what ONNX and TFLite ship) and, for int8, uint8 → uint16 → float32 for what the TF.js export writes.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, ModelIR, TfjsShipping, WeightIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import type { StorageSpec } from '../weight-storage.ts';

export type WeightDtype = 'int8' | 'uint8' | 'uint16' | 'float16';
export type Precision = WeightDtype | 'float32';
export type Granularity = 'per-channel' | 'per-tensor';

/** One weight the stage decides about. */
export interface PlannedWeight {
  layer: string;
  weight: string;
  /** Its axis in the weight's own shape for per-channel int8, if its family declares one. */
  channelAxis?: number;
  /** The precision asked for (option `weights`, or a `layers` override). */
  requested: Precision;
  /** Set when a `layers` override decided it: the pattern that matched. */
  override?: string;
}

/** `*` any run of characters, `?` one; anything else literal. A name without wildcards matches itself only. */
export function globMatcher(pattern: string): (name: string) => boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
  return (name) => re.test(name);
}

/** The weight's own axis to keep one scale per output channel along, from the family's quantisation view. */
function channelAxisOf(layer: LayerIR, w: WeightIR): number | undefined {
  const view = layerClass(layer.className)?.quantizationAxis?.(layer, { name: w.name, shape: w.shape });
  if (!view) return undefined;
  // The view may merge trailing axes (a depthwise kernel [kh, kw, C, m] seen as [kh, kw, C·m]); the weight's own axis
  // at the same position then gives one scale per input channel C (coarser, still per channel) — exact when m = 1.
  const prefix = view.shape.slice(0, view.axis);
  if (prefix.every((d, i) => w.shape[i] === d) && view.axis < w.shape.length) return view.axis;
  return undefined;
}

/**
 * The weights to quantise and what each asks for. `overrides` keys are layer names or globs (`conv*`); a key may
 * also name one weight as `layer/weight`. A key that matches nothing is a config error (a typo would silently
 * quantise what the user meant to protect).
 */
export function planWeights(ir: ModelIR, dtype: WeightDtype, overrides: Record<string, Precision>): PlannedWeight[] {
  const matchers = Object.entries(overrides).map(([pattern, precision]) => ({ pattern, precision, match: globMatcher(pattern), used: false }));
  const planned: PlannedWeight[] = [];
  for (const layer of ir.layers) {
    for (const w of layer.weights) {
      if (w.shape.length < 2) continue;
      const hit = matchers.find((m) => m.match(`${layer.name}/${w.name}`)) ?? matchers.find((m) => m.match(layer.name));
      if (hit) hit.used = true;
      const channelAxis = channelAxisOf(layer, w);
      planned.push({
        layer: layer.name, weight: w.name, requested: hit?.precision ?? dtype,
        ...(channelAxis === undefined ? {} : { channelAxis }), ...(hit ? { override: hit.pattern } : {}),
      });
    }
  }
  const unused = matchers.find((m) => !m.used);
  if (unused) {
    throw new SlimnetError('CONFIG_INVALID', `quantize option layers["${unused.pattern}"]`, 'matches no quantisable weight (kernels of rank ≥ 2)',
      `use a layer name of the model (${[...new Set(planned.map((p) => p.layer))].slice(0, 8).join(', ')}), a glob like "conv*", or "layer/weight"`);
  }
  return planned;
}

/** The storage a weight gets at a precision; `tfjs` is the TF.js shipping format of an int8 weight. */
export function storageFor(p: PlannedWeight, precision: Precision, granularity: Granularity, tfjs: TfjsShipping | 'float32', reduceRange = false): StorageSpec {
  if (precision !== 'int8') return { dtype: precision };
  const axis = granularity === 'per-channel' ? p.channelAxis : undefined;
  return { dtype: 'int8', symmetric: true, ...(axis === undefined ? {} : { axis }), ...(tfjs === 'float32' ? {} : { tfjs }), ...(reduceRange ? { reduceRange } : {}) };
}

/** Bytes per value of a precision as stored (ONNX/TFLite) — for ordering fallbacks by size. */
export const PRECISION_BYTES: Record<Precision, number> = { int8: 1, uint8: 1, uint16: 2, float16: 2, float32: 4 };

/** The rungs above a stored precision the fallback may climb to (what ONNX/TFLite store), smallest first. */
export function higherPrecisions(p: Precision): Precision[] {
  if (p === 'int8') return ['float16', 'float32'];
  if (p === 'uint8') return ['uint16', 'float32'];
  if (p === 'uint16' || p === 'float16') return ['float32'];
  return [];
}
