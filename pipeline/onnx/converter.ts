/**
 * The contract between the ONNX graph builder and a layer class's converter (declared in its family module under
 * pipeline/layers/), and the weight helpers converters share.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, WeightIR } from '../ir.ts';
import type { LayerConfig } from '../layers/types.ts';
import type { Dim, GraphBuilder, Layout, TensorRef } from './builder.ts';

export interface ConvertContext<C extends LayerConfig = LayerConfig> {
  b: GraphBuilder;
  layer: LayerIR<C>;
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

export type LayerConverter<C extends LayerConfig = LayerConfig> = (ctx: ConvertContext<C>) => Produced;

export function whereOf(layer: LayerIR): string {
  return `layer "${layer.name}" (${layer.className})`;
}

/** The layer is a supported class but uses an option the exporter cannot reproduce exactly. */
export function unsupportedOption(layer: LayerIR, what: string, hint: string): SlimnetError {
  return new SlimnetError('LAYER_UNSUPPORTED', whereOf(layer), `ONNX export does not support ${what}`, hint);
}

export function requireWeight(layer: LayerIR, name: string): WeightIR {
  const w = layer.weights.find((x) => x.name === name);
  if (!w) {
    throw new SlimnetError(
      'MODEL_INVALID',
      whereOf(layer),
      `weight "${name}" is missing`,
      `the layer has [${layer.weights.map((x) => x.name).join(', ')}]; check the weights manifest`,
    );
  }
  return w;
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
