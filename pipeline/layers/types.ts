/**
 * What a layer family declares about each of its Keras classes (one `LayerClass` per class), and the contexts its
 * hooks are called with. Modelled on tfjs-layers' `keras_format/` (a typed config per class) and Torch-Pruning's
 * per-op pruner table: one record per class, every consumer asks the registry (registry.ts) for it, and a class
 * without a record is refused the same way everywhere.
 */
import type { TfliteConversion } from '../formats/tflite/converter.ts';
import type { LayerIR } from '../ir.ts';
import type { LayerConverter } from '../onnx/converter.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import type { ActivationName } from './activations/names.ts';
import type { Fields } from './config.ts';

/** A JSON value as model.json stores it. */
export type KerasValue = null | boolean | number | string | readonly KerasValue[] | { readonly [key: string]: KerasValue };
/** A layer's Keras config exactly as model.json stores it (snake_case keys). */
export type KerasConfig = { readonly [key: string]: KerasValue };

/** The fields every layer config has; family configs extend it. */
export interface LayerConfig {
  readonly name: string;
  readonly trainable: boolean;
}

/** A per-sample shape (no batch dimension). */
export type Shape = number[];

export interface WeightSpec {
  name: string;
  shape: Shape;
}

/**
 * How a weight's values line up with the output channels of the op it belongs to, for per-channel quantisation
 * and BatchNormalization folding: view the weight as `shape` (the same row-major values) and the channels run
 * along `axis`. Conv2D's kernel [kh, kw, in, out] is itself with axis 3; a depthwise kernel [kh, kw, C, m] is viewed
 * as [kh, kw, C·m] with axis 2, because its output channel c·m + j is the flattened (c, j) pair (TF's order, and
 * ONNX's and TFLite's layout of the same kernel).
 */
export interface ChannelAxis {
  shape: Shape;
  axis: number;
}

export type ChannelRole = 'out' | 'in' | 'through';

/**
 * What a class's channel rule may do while the pruning analysis (graph/channel-groups.ts) visits its layer. Atoms
 * are one per index of a tensor's last (channel) axis; see channel-groups.ts for the model.
 */
export interface ChannelContext<C extends LayerConfig = LayerConfig> {
  readonly layer: LayerIR<C>;
  /** The layer's output shape (per sample). */
  outShape(): Shape;
  /** The atoms of the layer's only input (refuses a layer wired to several). */
  input(): Int32Array;
  /** The atoms of every input, in call order. */
  inputs(): Int32Array[];
  /** New atoms; `producer`: they are this layer's own output channels (it becomes a prunable producer). */
  fresh(count: number, opts?: { producer?: boolean; blocked?: string }): Int32Array;
  /** Weight `weight`'s `axis` follows `atoms` (sliced when their classes go). Missing weight: refuse, unless optional. */
  bind(weight: string, axis: number, atoms: Int32Array, role: ChannelRole, optional?: boolean): void;
  /** These atoms' classes must stay (with why). */
  block(atoms: Int32Array, reason: string): void;
  /** Atoms at equal positions are one class from now on. */
  unite(a: Int32Array, b: Int32Array): void;
  /** The analysis cannot follow this layer: it blocks the channels it touches. */
  refuse(reason: string): never;
}

/**
 * A layer computing y = rows(x) · K + b per output position, with K its `kernel` weight flattened to
 * [features, outputs] (Dense: [in, units]; Conv2D: [kh·kw·in, out] in im2col row order). Pruning's least-squares
 * reconstruction refits K and b from such rows.
 */
export interface LinearRows<C extends LayerConfig = LayerConfig> {
  /** Output positions per sample for an input of `inShape`. */
  positions(config: C, inShape: Shape): number;
  /** The rows of `x` ([count, ...inShape] flat) at flat positions over [count, positions]; undefined: all, in order. */
  rows(config: C, x: Float32Array, inShape: Shape, positions?: ArrayLike<number>): Float32Array;
  /** true: a seeded sample of positions is enough (convolutions); false: use every position (Dense). */
  sampled: boolean;
}

/** The activation a layer applies last, if any; `fused`: it is the layer's own `activation` option. */
export interface FinalActivation {
  name: ActivationName;
  /** Keras axis of a softmax (batch counted; -1 is the last). */
  axis?: number;
  fused: boolean;
}

export interface LayerClass<C extends LayerConfig = LayerConfig> {
  readonly className: string;
  /** The family module that declares it (`convolution`, `dense`, ...). */
  readonly family: string;
  /** How many inputs a layer of the class takes. */
  readonly arity: 'none' | 'one' | 'many';
  /** Its typed config: one field per Keras key slimnet reads, with tfjs's defaults. */
  readonly fields: Fields<Omit<C, keyof LayerConfig>>;
  /** Rules across fields (e.g. dilation only with stride 1) and on keys not typed; `fail` names the key. */
  check?(config: C, fail: (key: string, message: string, unsupported?: boolean) => never, keras: KerasConfig): void;
  /** Its weights in tfjs order with their shapes, for input shapes `inputs`. */
  weights(layer: LayerIR<C>, inputs: Shape[]): WeightSpec[];
  /** Output shape for input shapes `inputs`; throws a SlimnetError naming the layer when they do not fit. */
  outputShape(layer: LayerIR<C>, inputs: Shape[]): Shape;
  /** Multiply-accumulates per sample (see graph/macs.ts for the convention); absent means 0. */
  macs?(layer: LayerIR<C>, inputs: Shape[], output: Shape): number;
  /** How its channels join pruning groups; absent: the layer blocks the channels it touches. */
  channels?(ctx: ChannelContext<C>): Int32Array;
  /** For a producer of its own output channels: the layer with `channels` of them (pruning shrinks filters/units). */
  withOutputChannels?(layer: LayerIR<C>, channels: number): LayerIR<C>;
  /** Its ONNX nodes; absent: ONNX export refuses the layer. */
  onnx?: LayerConverter<C>;
  /** Its onnxruntime training rule, or why it has none (the model then fine-tunes on tfjs). */
  ort: LayerRule<any, C> | string;
  /** Per weight: its output-channel axis for per-channel quantisation; undefined: not quantisable per channel. */
  quantizationAxis?(layer: LayerIR<C>, weight: WeightSpec): ChannelAxis | undefined;
  /**
   * The weight holding the layer's output channels when the layer is `activation(x·kernel + bias)` per channel
   * (config has `activation` and `useBias`): a following BatchNormalization can be folded into it.
   */
  linearKernel?: string;
  /**
   * For a layer that is, at inference, `x·scale + shift` per channel along Keras axis `axis` (BatchNormalization):
   * the ONNX export folds it into a preceding layer's `linearKernel`.
   */
  channelAffine?(layer: LayerIR<C>): { scale: Float32Array; shift: Float32Array; axis: number };
  /** Least-squares reconstruction view (see LinearRows). */
  linearRows?: LinearRows<C>;
  /** The activation the layer ends with (the training loss wants logits; see train/training-ir.ts). */
  finalActivation?(config: C): FinalActivation | undefined;
  /**
   * A config tfjs saves incompletely, completed from the layer's weights when a model is read (SeparableConv2D:
   * tfjs leaves depth_multiplier out, and cannot load its own model back unless it is there). Undefined: nothing to do.
   */
  completeFromWeights?(layer: LayerIR<C>): LayerIR<C> | undefined;
  /**
   * What the class does with a Keras mask on its input (from an Embedding with mask_zero), as tfjs-layers does:
   * 'pass' — its output carries the mask unchanged (layers that are the identity at inference); 'consume' — it skips
   * masked time steps (recurrent layers), its output carrying the mask when `keepsMask` (a returned sequence).
   * Absent: it cannot take a mask (tfjs throws "does not support masking"), and graph/masks.ts refuses the model.
   */
  masking?: { kind: 'pass' } | { kind: 'consume'; keepsMask(config: C): boolean };
  /** The layer makes a mask from its input ids (Embedding with mask_zero: the steps whose id is not 0). */
  makesMask?(config: C): boolean;
  /**
   * True when the layer reads its (only) input as integer indices (Embedding): the input is never quantised — not by
   * the ONNX export's activation QDQ, not by an int8 graph input — since rounding an id changes which row is read.
   */
  indexInput?: boolean;
  /** How the TFLite export writes it (pipeline/formats/tflite/converter.ts); absent: TFLite export refuses the layer. */
  tflite?: TfliteConversion<C>;
}

/** Builds a class record with its config type inferred from `fields` (the one cast a family needs). */
export function defineLayer<C extends LayerConfig>(spec: LayerClass<C>): LayerClass<C> {
  return spec;
}
