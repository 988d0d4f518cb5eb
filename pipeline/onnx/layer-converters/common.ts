/** What every layer converter gets and returns, and typed readers for Keras layer configs. */
import { SlimnetError } from '../../errors.ts';
import type { LayerIR, WeightIR } from '../../ir.ts';
import type { Dim, GraphBuilder, Layout, TensorRef } from '../builder.ts';

export interface ConvertContext {
  b: GraphBuilder;
  layer: LayerIR;
  /** The layer's inputs, each in whatever layout its producer left it. */
  inputs: TensorRef[];
  /** The layer's Keras output shape (batch first). */
  outShape: Dim[];
}

/** The tensor a converter produced; its Keras shape is the layer's output shape. */
export interface Produced {
  name: string;
  layout: Layout;
}

export type LayerConverter = (ctx: ConvertContext) => Produced;

export function whereOf(layer: LayerIR): string {
  return `layer "${layer.name}"`;
}

/** The layer is a supported class but uses an option the exporter cannot reproduce exactly. */
export function unsupportedOption(layer: LayerIR, what: string, hint: string): SlimnetError {
  return new SlimnetError(
    'LAYER_UNSUPPORTED',
    `${whereOf(layer)} (${layer.className})`,
    `ONNX export does not support ${what}`,
    hint,
  );
}

function badConfig(layer: LayerIR, key: string, expected: string): SlimnetError {
  return new SlimnetError(
    'MODEL_INVALID',
    `${whereOf(layer)} (${layer.className})`,
    `config.${key} should be ${expected}, got ${JSON.stringify(layer.config[key])}`,
    'the model.json topology looks damaged; re-save the model with tfjs',
  );
}

export function numberOpt(layer: LayerIR, key: string, fallback: number): number {
  const v = layer.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'number' || !Number.isFinite(v)) throw badConfig(layer, key, 'a number');
  return v;
}

export function stringOpt(layer: LayerIR, key: string, fallback: string): string {
  const v = layer.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'string') throw badConfig(layer, key, 'a string');
  return v;
}

export function boolOpt(layer: LayerIR, key: string, fallback: boolean): boolean {
  const v = layer.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v !== 'boolean') throw badConfig(layer, key, 'true or false');
  return v;
}

/** Keras accepts `3` or `[3, 3]` for kernel sizes, strides and dilations. */
export function pairOpt(layer: LayerIR, key: string, fallback: [number, number]): [number, number] {
  const v = layer.config[key];
  if (v === undefined || v === null) return fallback;
  if (typeof v === 'number' && Number.isInteger(v)) return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((n) => typeof n === 'number' && Number.isInteger(n))) {
    return [v[0] as number, v[1] as number];
  }
  if (Array.isArray(v) && v.length === 1 && Number.isInteger(v[0])) return [v[0] as number, v[0] as number];
  throw badConfig(layer, key, 'an integer or a pair of integers');
}

export function requireWeight(layer: LayerIR, name: string): WeightIR {
  const w = layer.weights.find((x) => x.name === name);
  if (!w) {
    throw new SlimnetError(
      'MODEL_INVALID',
      `${whereOf(layer)} (${layer.className})`,
      `weight "${name}" is missing`,
      `the layer has [${layer.weights.map((x) => x.name).join(', ')}]; check the weights manifest`,
    );
  }
  return w;
}

/** Only channels_last is supported: it is what tfjs uses and what the NHWC input contract assumes. */
export function requireChannelsLast(layer: LayerIR): void {
  const format = stringOpt(layer, 'data_format', 'channels_last');
  if (format !== 'channels_last') {
    throw unsupportedOption(layer, `data_format "${format}"`, 'only channels_last layers can be exported');
  }
}

/** `values` (row-major, `shape`) permuted by `perm`, as numpy's transpose. */
export function transposeValues(values: Float32Array, shape: number[], perm: number[]): Float32Array {
  const rank = shape.length;
  const outShape = perm.map((p) => shape[p]);
  const inStrides = new Array<number>(rank);
  for (let i = rank - 1, s = 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  const strideForOut = perm.map((p) => inStrides[p]);
  const out = new Float32Array(values.length);
  const index = new Array<number>(rank).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let d = 0; d < rank; d++) src += index[d] * strideForOut[d];
    out[o] = values[src];
    for (let d = rank - 1; d >= 0; d--) {
      if (++index[d] < outShape[d]) break;
      index[d] = 0;
    }
  }
  return out;
}
