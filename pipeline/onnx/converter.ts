/**
 * The contract between the ONNX graph builder and a layer class's converter (declared in its family module under
 * pipeline/layers/), and the weight helpers converters share.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, WeightIR } from '../ir.ts';
import type { LayerConfig } from '../layers/types.ts';
import type { Dim, GraphBuilder, Layout, TensorRef } from './builder.ts';
import { permute } from '../typed-arrays.ts';

export interface ConvertContext<C extends LayerConfig = LayerConfig> {
  b: GraphBuilder;
  layer: LayerIR<C>;
  /** The layer's inputs, each in whatever layout its producer left it. */
  inputs: TensorRef[];
  /** The layer's Keras output shape (batch first). */
  outShape: Dim[];
  /** For a layer that skips masked steps and reads a masked input (graph/masks.ts): the mask, float [batch, steps], 1 where a step counts. */
  mask?: string;
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
  return permute(values, shape, perm);
}
