/**
 * A TFLite model as plain data, one subgraph: what the exporter builds and serialize.ts encodes as a FlatBuffer
 * (read.ts decodes a file back into the same shape for tests). Keeping it plain keeps the FlatBuffer calls in one
 * file and lets tests inspect a model without the generated accessors.
 */
import { BuiltinOperator, TensorType } from './schema/schema_generated.ts';

export { BuiltinOperator, TensorType };

export interface QuantizationSpec {
  /** One scale per tensor, or one per slice along `quantizedDimension`. real = scale · (q − zeroPoint). */
  scale: number[];
  zeroPoint: number[];
  quantizedDimension?: number;
  /** The float range the parameters came from (informational; TF's converter records it too). */
  min?: number[];
  max?: number[];
}

export interface TensorSpec {
  name: string;
  type: TensorType;
  shape: number[];
  /** `shape` with −1 where the dimension is dynamic (the batch); omitted when every dimension is fixed. */
  shapeSignature?: number[];
  /** Constant contents, little-endian, row-major; absent for activations. */
  data?: Uint8Array;
  quantization?: QuantizationSpec;
}

export type Padding = 'same' | 'valid';
/** TFLite's fused activations: applied by the op itself, in its own output quantisation for int8. */
export type FusedActivation = 'none' | 'relu' | 'relu6';

/** Builtin options of the ops the exporter emits, as data. */
export type OperatorOptions =
  | { kind: 'conv2d'; padding: Padding; strides: [number, number]; dilation: [number, number]; activation: FusedActivation }
  | { kind: 'depthwiseConv2d'; padding: Padding; strides: [number, number]; dilation: [number, number]; depthMultiplier: number; activation: FusedActivation }
  | { kind: 'pool2d'; padding: Padding; strides: [number, number]; filter: [number, number]; activation: FusedActivation }
  | { kind: 'fullyConnected'; activation: FusedActivation }
  | { kind: 'add' | 'sub' | 'mul'; activation: FusedActivation }
  | { kind: 'concatenation'; axis: number; activation: FusedActivation }
  | { kind: 'reshape'; newShape: number[] }
  | { kind: 'softmax'; beta: number }
  | { kind: 'reducer'; keepDims: boolean }
  | { kind: 'leakyRelu'; alpha: number }
  | { kind: 'resize'; alignCorners: boolean; halfPixelCenters: boolean }
  | { kind: 'gelu'; approximate: boolean }
  | { kind: 'gather'; axis: number }
  | { kind: 'transposeConv'; padding: Padding; strides: [number, number] }
  | { kind: 'cast'; from: TensorType; to: TensorType }
  | { kind: 'pad' | 'logSoftmax' | 'quantize' | 'dequantize' | 'maximumMinimum' | 'hardSwish' | 'notEqual' };

export interface OperatorSpec {
  op: BuiltinOperator;
  /** The op version the kernel registry is asked for (TF's tools/versioning/op_version.cc rules). */
  version: number;
  /** Tensor indices; −1 marks an omitted optional input. */
  inputs: number[];
  outputs: number[];
  options?: OperatorOptions;
}

export interface ModelSpec {
  /** Model.description, e.g. `slimnet 0.1.0`. */
  description: string;
  /** The subgraph's name (the model's). */
  name: string;
  tensors: TensorSpec[];
  operators: OperatorSpec[];
  inputs: number[];
  outputs: number[];
  /** Model.metadata entries, each stored in its own buffer (e.g. `min_runtime_version`). */
  metadata?: Record<string, Uint8Array>;
}

/** File identifier and schema version every model written here carries. */
export const TFLITE_FILE_IDENTIFIER = 'TFL3';
export const TFLITE_SCHEMA_VERSION = 3;
