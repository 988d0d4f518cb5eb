/**
 * The model IR: plain data, no tfjs objects. It is the Keras-format topology (as in a TF.js model.json)
 * flattened to a functional graph, plus weights per layer: the float32 values the model computes with and how each
 * weight ships (its storage). Stages transform IR -> IR; a tfjs LayersModel is only built from it to evaluate or
 * fine-tune (pipeline/io/tfjs-model.ts).
 *
 * A layer's config lives once: `keras` is the Keras JSON exactly as model.json stores it (what is written back),
 * and `config` is its typed, normalised reading (pipeline/layers/). Both are frozen, and the only ways to make a
 * layer are pipeline/layers/registry.ts's `layerFromKeras`, `withConfig` and `createLayer`, which derive `config`
 * from `keras` — so an edited layer cannot carry a stale typed view.
 */
import type { KerasConfig, LayerConfig } from './layers/types.ts';

export interface WeightIR {
  /** The weight's own name without the layer prefix: `kernel`, `bias`, `gamma`, `moving_mean`, ... */
  name: string;
  shape: number[];
  /** The float32 values the model computes with: with `storage`, exactly what decoding its codes gives. */
  values: Float32Array;
  /**
   * How the weight ships; absent: float32. Read from quantised model.json files and kept through every stage and
   * writer. Change a stored weight's values only through pipeline/weight-storage.ts (withValues, sliceWeight), which
   * re-encodes them; writers verify the invariant.
   */
  storage?: WeightStorage;
}

/** IEEE half floats: tfjs's `{dtype: 'float16'}`, ONNX FLOAT16. `codes` are the half-float bit patterns. */
export interface Float16Storage {
  dtype: 'float16';
  codes: Uint16Array;
}

/** tfjs's per-tensor affine quantisation (`--quantize_uint8` / `_uint16`): value = code·scale + min (in float64, then float32). */
export interface AffineStorage {
  dtype: 'uint8' | 'uint16';
  scale: number;
  min: number;
  codes: Uint8Array | Uint16Array;
}

/**
 * Linear int8, the form ONNX QDQ and TFLite use: value = (code − zeroPoint)·scale (float32 scales). Per tensor (no
 * `axis`; one scale and zero point) or per channel (one per index of `axis`). Symmetric when every zero point is 0.
 */
export interface Int8Storage {
  dtype: 'int8';
  axis?: number;
  scales: number[];
  zeroPoints: number[];
  codes: Int8Array;
  /**
   * How the TF.js export ships this weight, which tfjs's per-tensor manifest cannot hold as linear int8: the nearest
   * format stock tfjs loads, encoded from `values` at write time (the quantize stage picks it per weight by measured
   * error, pipeline/quantize/tfjs-choice.ts). Absent: float32, exactly `values`. ONNX and TFLite ship the int8 codes.
   */
  tfjs?: TfjsShipping;
  /**
   * How the ONNX export dequantises it. Absent: `DequantizeLinear` (the QDQ form; onnxruntime runs DQ → Conv/MatMul
   * through its quantised kernels, which on CPU can be slower than float when activations stay float). `cast-mul`
   * (symmetric only): `Cast` to float then `Mul` by the scales, which onnxruntime constant-folds at session load into
   * exactly the same float32 values — float speed, the same int8 bytes. The quantize stage measures both and picks.
   */
  onnx?: 'cast-mul';
}

/** The tfjs weights-manifest formats an int8 weight can be exported as (see Int8Storage.tfjs). */
export type TfjsShipping = 'uint8' | 'uint16' | 'float16';

export type WeightStorage = Float16Storage | AffineStorage | Int8Storage;

export interface LayerIR<C extends LayerConfig = LayerConfig> {
  readonly name: string;
  /** Keras class name: `Conv2D`, `Dense`, `InputLayer`, ... */
  readonly className: string;
  /** The typed, normalised config (defaults applied, tuples as pairs); for a class slimnet does not know, only the base fields. */
  readonly config: C;
  /** The layer's Keras-format config exactly as model.json stores it (snake_case keys), `name` included. */
  readonly keras: KerasConfig;
  /** Names of the layers whose outputs this layer consumes, in call order. Empty for InputLayer. */
  inputs: string[];
  /** In the order tfjs saves them (layer.weights order), which is the order model.json lists them. */
  weights: WeightIR[];
}

export interface ModelIR {
  name: string;
  /** Topologically ordered: every layer comes after the layers it consumes. */
  layers: LayerIR[];
  /** Names of the InputLayer layers, in model input order. */
  inputs: string[];
  /** Names of the layers whose outputs are the model outputs, in order. */
  outputs: string[];
  /** Carried through from model.json so the written file looks like what tfjs writes. */
  kerasVersion?: string;
  backend?: string;
  /**
   * `layer/weight` names in the order the source's weights manifest listed them (tfjs's model.save puts trainable
   * weights first, the converter goes layer by layer): writers keep it, so rewriting a model keeps its weight bytes.
   */
  weightOrder?: string[];
  /**
   * Calibrated activation ranges, when a stage measured them (pipeline/activation-calibration.ts, the one module that
   * does). Read only; cloneIR shares it. It describes the model it was measured on (`modelDigest`): consumers use it
   * only through `currentCalibration`, which ignores it once a later stage changed the model.
   */
  calibration?: ActivationCalibration;
}

/** A float range a tensor took on calibration data. */
export interface ActivationRange {
  min: number;
  max: number;
}

/**
 * The one representation of calibrated activations, consumed by every writer that quantises activations (TFLite
 * full-integer int8, ONNX QDQ). Ranges, not quantisation parameters: each writer derives its own (TFLite: asymmetric
 * int8 over the range widened to contain 0; kernel-fixed outputs such as softmax's 1/256 ignore it). Plain JSON, so
 * it travels in the stage cache.
 */
export interface ActivationCalibration {
  /** How ranges were computed from the observed values (a key of CALIBRATION_METHODS: `minmax`, …). */
  method: string;
  /** How many training samples were observed. */
  samples: number;
  /** calibrationDigest of the model the ranges were measured on (topology, configs, weight values). */
  modelDigest: string;
  /**
   * Keyed by tensor: a layer's name for its output (input layers included); `<layer>/preactivation` for the linear
   * part of a layer whose `activation` option a writer cannot fuse (sigmoid, softmax, …: the layer's name is then the
   * activated output); `<layer>/depthwise` for the depthwise half of a SeparableConv2D; `<layer>/partial<i>` for the
   * running result of an element-wise merge of more than two inputs after its first i + 1 inputs (a writer chains
   * binary ops), and `<layer>/sum` for an Average's sum before × 1/n. A layer a BatchNormalization is folded into
   * is written with the BN's range (its output is the BN's).
   */
  ranges: Readonly<Record<string, ActivationRange>>;
  /**
   * Set by the quantize stage when it ships int8 activations in the ONNX export: a static QDQ graph, with
   * QuantizeLinear → DequantizeLinear (int8, per tensor, the range widened to hold 0) on the input and every layer
   * output but the model's outputs, scaled by these ranges (pipeline/onnx/activation-qdq.ts). Absent: ONNX
   * activations stay float.
   */
  onnxQdq?: true;
}

/** ActivationCalibration's key for a layer's linear part before an activation a writer cannot fuse. */
export function preactivationKey(layerName: string): string {
  return `${layerName}/preactivation`;
}

/** ActivationCalibration's key for an element-wise merge's running result after its first `i` + 1 inputs. */
export function mergePartialKey(layerName: string, i: number): string {
  return `${layerName}/partial${i}`;
}

/** ActivationCalibration's key for an Average's sum of all its inputs (before × 1/n). */
export function averageSumKey(layerName: string): string {
  return `${layerName}/sum`;
}

/** ActivationCalibration's key (and the TFLite tensor name) of the depthwise half of a SeparableConv2D. */
export function separableDepthwiseKey(layerName: string): string {
  return `${layerName}/depthwise`;
}

export function findLayer(ir: ModelIR, name: string): LayerIR {
  const layer = ir.layers.find((l) => l.name === name);
  if (!layer) throw new Error(`IR has no layer named "${name}"`);
  return layer;
}

export function getWeight(layer: LayerIR, name: string): WeightIR | undefined {
  return layer.weights.find((w) => w.name === name);
}

/** Layers that consume `name`'s output. */
export function consumersOf(ir: ModelIR, name: string): LayerIR[] {
  return ir.layers.filter((l) => l.inputs.includes(name));
}

/** A deep copy of one weight, codes included. */
export function cloneWeight(w: WeightIR): WeightIR {
  const copy: WeightIR = { name: w.name, shape: [...w.shape], values: w.values.slice() };
  const s = w.storage;
  if (s) copy.storage = s.dtype === 'int8' ? { ...s, scales: [...s.scales], zeroPoints: [...s.zeroPoints], codes: s.codes.slice() } : ({ ...s, codes: s.codes.slice() } as WeightStorage);
  return copy;
}

export function countParams(ir: ModelIR): number {
  let n = 0;
  for (const layer of ir.layers) for (const w of layer.weights) n += w.values.length;
  return n;
}

/** A deep copy: stages must never mutate the IR they were given (the runner may hand it on if they fail). */
export function cloneIR(ir: ModelIR): ModelIR {
  return {
    ...ir,
    inputs: [...ir.inputs],
    outputs: [...ir.outputs],
    ...(ir.weightOrder ? { weightOrder: [...ir.weightOrder] } : {}),
    layers: ir.layers.map((l) => ({
      ...l,
      // config and keras are frozen: sharing them is safe.
      inputs: [...l.inputs],
      weights: l.weights.map(cloneWeight),
    })),
  };
}
