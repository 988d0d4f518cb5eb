/**
 * The contract between the TFLite exporter and a layer class's conversion (declared in its family module under
 * pipeline/layers/, the `tflite` slot), and the helpers conversions share. A converter turns one Keras layer into
 * TFLite ops on the graph; it describes the float computation and the graph takes care of int8 (graph.ts).
 */
import { SlimnetError } from '../../errors.ts';
import type { LayerIR } from '../../ir.ts';
import type { LayerConfig } from '../../layers/types.ts';
import type { OutputSpec, TensorRef, TfliteGraph } from './graph.ts';

export interface TfliteConvertContext<C extends LayerConfig = LayerConfig> {
  g: TfliteGraph;
  /** The layer, with its typed config (pipeline/layers/). */
  layer: LayerIR<C>;
  /** The layer's inputs, in call order. */
  inputs: TensorRef[];
  /** The layer's output shape with the batch axis (1) first: TFLite's NHWC, the Keras layout. */
  outShape: number[];
  /**
   * Name and calibrated range of the tensor holding the layer's output: the layer's own name, or that of a
   * BatchNormalization folded into it (whose values the tensor then holds).
   */
  out: OutputSpec;
  /** Nothing but this layer reads its input, so an activation may fuse into the op that produced it. */
  ownsInput: boolean;
  /** For a layer that skips masked steps and reads a masked input (graph/masks.ts): the mask, float [1, steps], 1 where a step counts. */
  mask?: TensorRef;
}

export type TfliteLayerConverter<C extends LayerConfig = LayerConfig> = (ctx: TfliteConvertContext<C>) => TensorRef;

/** A class's `tflite` slot: how its layers are written. */
export interface TfliteConversion<C extends LayerConfig = LayerConfig> {
  convert: TfliteLayerConverter<C>;
  /**
   * True when the layer computes nothing at inference, its output being its input's tensor (Dropout, a linear
   * Activation): the exporter must know before converting, to count which ops read a tensor (an activation fuses
   * into the op before it only when nothing else reads that op's output).
   */
  identity?(config: C): boolean;
}

/** The conversion of layers that do nothing at inference. */
export const tfliteIdentity: TfliteConversion = { convert: ({ inputs }) => inputs[0]!, identity: () => true };

/** The layer is a supported class but uses an option the TFLite export cannot reproduce exactly. */
export function tfliteUnsupported(layer: LayerIR, what: string, hint: string): SlimnetError {
  return new SlimnetError('LAYER_UNSUPPORTED', `layer "${layer.name}" (${layer.className})`, `TFLite export does not support ${what}`, hint);
}

/** A zero bias for layers without one: TFLite's conv and fully-connected kernels all take a bias input. */
export function biasOrZeros(bias: Float32Array | undefined, channels: number): Float32Array {
  return bias ?? new Float32Array(channels);
}

/** Keras axis (batch counted, negative from the end) → TFLite axis of a rank-`rank` tensor (batch included). */
export function tfliteAxis(axis: number, rank: number): number {
  return axis < 0 ? rank + axis : axis;
}
