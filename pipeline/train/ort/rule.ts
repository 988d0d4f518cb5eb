/**
 * What an onnxruntime training rule is (each layer class declares its own in its family module, pipeline/layers/): the layer's training-mode forward pass (weights read from graph inputs, not baked in) and
 * its reverse pass (gradients for the layer's inputs and trainable weights), both emitted as ONNX nodes.
 * The shared reverse-pass driver (backward.ts) handles activations, layouts and summing gradients where branches meet.
 */
import type { Dim, GraphBuilder, TensorRef } from '../../onnx/builder.ts';
import type { LayerIR } from '../../ir.ts';
import type { Activation } from '../../layers/activations/functions.ts';
import type { LayerConfig } from '../../layers/types.ts';

/** How a weight is held while training: its tensor shape in the graph and the conversions to and from the IR's. */
export interface WeightLayout {
  shape: number[];
  toTrain(values: Float32Array): Float32Array;
  toIR(values: Float32Array): Float32Array;
}

export interface WeightAccess {
  /** The tensor holding weight `name` of the layer in `layout` (a graph input if trainable, else a constant). */
  weight(name: string, layout?: WeightLayout): string;
  /**
   * Running statistics (BatchNormalization): the current value's tensor, and the name the rule must give the node
   * computing the updated value (a graph output; see opInto).
   */
  state(name: string, layout: WeightLayout): { current: string; next: string };
  /** A seeded dropout mask input with the layer's Keras output shape (batch first); returns its name. */
  dropoutMask(layer: LayerIR, kerasShape: Dim[], rate: number): string;
}

export interface ForwardContext<C extends LayerConfig = LayerConfig> {
  b: GraphBuilder;
  layer: LayerIR<C>;
  /** The layer's inputs, each in whatever layout its producer left it. */
  inputs: TensorRef[];
  /** The layer's Keras output shape, batch first (null). */
  outShape: Dim[];
  weights: WeightAccess;
  /**
   * BatchNormalization's statistics while training: 'batch' normalises with each batch's mean and variance and
   * updates the running ones (Keras fit()); 'moving' uses the running statistics, frozen (Keras' fine-tuning advice,
   * and what a small batch needs: its statistics are too noisy to normalise with).
   */
  batchNorm: BatchNormMode;
}

export type BatchNormMode = 'batch' | 'moving';

export interface Forward<S = unknown> {
  /** The layer's output before its activation, in a layout of the rule's choice. */
  pre: TensorRef;
  /** The activation the driver applies on top (fused Conv/Dense activations, activation layers). */
  activation: Activation;
  /** Whatever the reverse pass needs from the forward (tensor names, geometry). */
  saved: S;
}

export interface BackwardContext<S = unknown, C extends LayerConfig = LayerConfig> {
  b: GraphBuilder;
  layer: LayerIR<C>;
  inputs: TensorRef[];
  forward: Forward<S>;
  /** Gradient of the loss with respect to `forward.pre`, in `forward.pre`'s layout. */
  dPre: string;
  /** Per input: is its gradient needed (something trainable is upstream)? */
  needInput: boolean[];
  /** Names of the layer's weights that are trained (their gradients are needed). */
  trainable: ReadonlySet<string>;
  /**
   * Per input: the activation of the layer producing it, when this layer is that output's only consumer (a rule
   * may then apply the activation's gradient itself, more cheaply, and say so with `throughActivation`).
   */
  producer: (Activation | undefined)[];
}

/** An input gradient; `throughActivation`: it is already the gradient of the producer's pre-activation output. */
export interface InputGradient extends TensorRef {
  throughActivation?: boolean;
}

export interface Backward {
  /** Gradient per input (undefined where not needed), with the layout it was produced in. */
  inputs: (InputGradient | undefined)[];
  /** Gradient per trained weight name, in that weight's training layout. */
  weights: Record<string, string>;
}

export interface LayerRule<S = unknown, C extends LayerConfig = LayerConfig> {
  /** Why this layer cannot be trained on ORT, or undefined when it can. `inShapes` are Keras shapes with batch null. */
  unsupported?(layer: LayerIR<C>, inShapes: Dim[][]): string | undefined;
  forward(ctx: ForwardContext<C>): Forward<S>;
  backward(ctx: BackwardContext<S, C>): Backward;
}
