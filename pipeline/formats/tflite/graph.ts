/**
 * The graph the TFLite exporter builds: tensors, constants and operators of one subgraph, in either numerics.
 * Converters and ops (ops.ts) describe a float computation; in int8 numerics the graph gives every activation
 * tensor its quantisation (from the calibrated ranges, or as the op requires), quantises constants, and puts
 * QUANTIZE / DEQUANTIZE at the float32 edges, so one converter serves both numerics.
 *
 * Activation tensors are NHWC with batch 1 (the addon and most TFLite runtimes run at the written batch size)
 * and a shape signature whose −1 batch lets runtimes that can resize inputs batch.
 */
import { SlimnetError } from '../../errors.ts';
import {
  BuiltinOperator, TensorType, type FusedActivation, type ModelSpec, type OperatorOptions, type OperatorSpec,
  type QuantizationSpec, type TensorSpec,
} from './model-spec.ts';
import type { ActivationCalibration } from '../../ir.ts';
import { activationQuant, sameQuant, type ActivationQuant } from './quantization.ts';

export type Numerics = 'float32' | 'int8';

/** An activation tensor of the graph. `quant` is set exactly when the graph is int8. */
export interface TensorRef {
  readonly index: number;
  readonly shape: number[];
  readonly quant?: ActivationQuant;
}

/** What a new activation tensor is called and which calibrated range quantises it (default: its name). */
export interface OutputSpec {
  name: string;
  rangeKey?: string;
}

/**
 * How an op's int8 output is quantised: from the calibrated range of its output; exactly as its input (ops that
 * move or select values: pooling, reshapes, padding — the kernels require it); or fixed by the kernel.
 */
export type OutputQuant = 'calibrated' | 'input' | ActivationQuant;

/** Op version per numerics, as TF's op_version.cc assigns them for the signatures emitted here. */
export type OpVersions = { float32: number; int8: number };

const FUSABLE_OPS = new Set<BuiltinOperator>([
  BuiltinOperator.CONV_2D, BuiltinOperator.DEPTHWISE_CONV_2D, BuiltinOperator.FULLY_CONNECTED, BuiltinOperator.ADD,
  BuiltinOperator.SUB, BuiltinOperator.MUL,
]);

function float32Bytes(values: Float32Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength).slice();
}

export class TfliteGraph {
  private readonly tensors: TensorSpec[] = [];
  private readonly operators: OperatorSpec[] = [];
  private readonly graphInputs: number[] = [];
  private readonly graphOutputs: number[] = [];
  /** Tensor index → index of the operator producing it. */
  private readonly producers = new Map<number, number>();
  private readonly names = new Set<string>();

  constructor(
    readonly numerics: Numerics,
    /** Required in int8 numerics. */
    private readonly ranges: ActivationCalibration['ranges'] = {},
  ) {}

  get int8(): boolean {
    return this.numerics === 'int8';
  }

  /** The int8 parameters of the tensor whose calibrated range is `key`; a missing range is a calibration gap. */
  calibrated(key: string): ActivationQuant {
    const range = Object.hasOwn(this.ranges, key) ? this.ranges[key] : undefined;
    if (!range) {
      throw new SlimnetError('STAGE_FAILED', `tensor "${key}"`, 'int8 TFLite export has no calibrated range for this tensor',
        'calibrate the model being exported (pipeline/activation-calibration.ts); ranges are keyed by the tensors of its calibrationView');
    }
    return activationQuant(range);
  }

  /** A new activation tensor of `shape` (batch included). In int8, `quant` decides its parameters. */
  activation(out: OutputSpec, shape: number[], quant: OutputQuant = 'calibrated', input?: TensorRef): TensorRef {
    let q: ActivationQuant | undefined;
    if (this.int8) {
      if (quant === 'calibrated') q = this.calibrated(out.rangeKey ?? out.name);
      else if (quant === 'input') q = input?.quant ?? fail(`op producing "${out.name}" keeps its input's quantisation, but has no int8 input`);
      else q = quant;
    }
    const index = this.tensors.push({
      name: this.uniqueName(out.name),
      type: q ? TensorType.INT8 : TensorType.FLOAT32,
      shape: [...shape],
      shapeSignature: [-1, ...shape.slice(1)],
      ...(q ? { quantization: activationQuantization(q) } : {}),
    }) - 1;
    return { index, shape: [...shape], ...(q ? { quant: q } : {}) };
  }

  /** A non-float intermediate tensor (indices, masks): never quantised, whatever the numerics. */
  typedActivation(name: string, type: TensorType, shape: number[]): TensorRef {
    const index = this.tensors.push({ name: this.uniqueName(name), type, shape: [...shape], shapeSignature: [-1, ...shape.slice(1)] }) - 1;
    return { index, shape: [...shape] };
  }

  /** A constant tensor; `data` is little-endian row-major. */
  constant(name: string, type: TensorType, shape: number[], data: Uint8Array, quantization?: QuantizationSpec): number {
    return this.tensors.push({ name: this.uniqueName(name), type, shape: [...shape], data, ...(quantization ? { quantization } : {}) }) - 1;
  }

  /**
   * A float32 tensor computed once from a stored constant (INT8 or FLOAT16 codes) by DEQUANTIZE: weights that ship
   * quantised in a float model. `version` is DEQUANTIZE's for that input (op_version.cc).
   */
  dequantized(name: string, type: TensorType, shape: number[], codes: Uint8Array, quantization: QuantizationSpec | undefined, version: number): number {
    const stored = this.constant(`${name}/${type === TensorType.FLOAT16 ? 'float16' : 'quantized'}`, type, shape, codes, quantization);
    const index = this.tensors.push({ name: this.uniqueName(name), type: TensorType.FLOAT32, shape: [...shape] }) - 1;
    this.op(BuiltinOperator.DEQUANTIZE, { float32: version, int8: version }, [stored], [{ index, shape: [...shape] }], { kind: 'dequantize' });
    return index;
  }

  floatConstant(name: string, shape: number[], values: Float32Array): number {
    return this.constant(name, TensorType.FLOAT32, shape, float32Bytes(values));
  }

  int32Constant(name: string, shape: number[], values: ArrayLike<number>): number {
    const v = Int32Array.from(values);
    return this.constant(name, TensorType.INT32, shape, new Uint8Array(v.buffer));
  }

  /** Emits an operator; returns its outputs. */
  op(op: BuiltinOperator, versions: OpVersions, inputs: number[], outputs: TensorRef[], options?: OperatorOptions): TensorRef[] {
    const opIndex = this.operators.push({
      op,
      version: versions[this.numerics],
      inputs,
      outputs: outputs.map((t) => t.index),
      ...(options ? { options } : {}),
    }) - 1;
    for (const t of outputs) this.producers.set(t.index, opIndex);
    return outputs;
  }

  /** The model input: float32; in int8 a QUANTIZE follows it, calibrated on the input layer's range. */
  addInput(name: string, shape: number[]): TensorRef {
    const float: TensorRef = this.floatActivation(name, shape);
    this.graphInputs.push(float.index);
    if (!this.int8) return float;
    const q = this.activation({ name: `${name}/int8`, rangeKey: name }, shape);
    return this.op(BuiltinOperator.QUANTIZE, { float32: 1, int8: 1 }, [float.index], [q], { kind: 'quantize' })[0]!;
  }

  /** Marks `ref` as a model output named `name`: float32; in int8 through a DEQUANTIZE. */
  addOutput(ref: TensorRef, name: string): void {
    if (!this.int8) {
      this.tensors[ref.index]!.name = this.uniqueName(name, ref.index);
      this.graphOutputs.push(ref.index);
      return;
    }
    const float = this.floatActivation(name, ref.shape);
    this.op(BuiltinOperator.DEQUANTIZE, { float32: 1, int8: 2 }, [ref.index], [float], { kind: 'dequantize' });
    this.graphOutputs.push(float.index);
  }

  /** `x` with the int8 parameters `quant` (a QUANTIZE requantising it), or `x` itself if they already match. */
  requantize(x: TensorRef, quant: ActivationQuant, name: string): TensorRef {
    if (!this.int8 || sameQuant(x.quant, quant)) return x;
    const out = this.activation({ name }, x.shape, quant);
    return this.op(BuiltinOperator.QUANTIZE, { float32: 1, int8: 1 }, [x.index], [out], { kind: 'quantize' })[0]!;
  }

  /**
   * Folds `activation` into the op that produced `x` when that op has a fused-activation slot still free: the op's
   * output then becomes the activation's output (renamed `out.name`, and in int8 quantised on its range). Returns
   * undefined when it cannot; the caller emits the activation as its own op. The caller guarantees that nothing
   * else reads `x`.
   */
  fuseActivation(x: TensorRef, activation: Exclude<FusedActivation, 'none'>, out: OutputSpec): TensorRef | undefined {
    const opIndex = this.producers.get(x.index);
    const op = opIndex === undefined ? undefined : this.operators[opIndex]!;
    if (!op || !FUSABLE_OPS.has(op.op) || !op.options || !('activation' in op.options) || op.options.activation !== 'none') return undefined;
    op.options = { ...op.options, activation };
    const tensor = this.tensors[x.index]!;
    tensor.name = this.uniqueName(out.name, x.index);
    if (!this.int8) return x;
    const quant = this.calibrated(out.rangeKey ?? out.name);
    tensor.quantization = activationQuantization(quant);
    return { index: x.index, shape: x.shape, quant };
  }

  toSpec(name: string, description: string, metadata?: Record<string, Uint8Array>): ModelSpec {
    return {
      name,
      description,
      tensors: this.tensors,
      operators: this.operators,
      inputs: this.graphInputs,
      outputs: this.graphOutputs,
      ...(metadata ? { metadata } : {}),
    };
  }

  private floatActivation(name: string, shape: number[]): TensorRef {
    const index = this.tensors.push({ name: this.uniqueName(name), type: TensorType.FLOAT32, shape: [...shape], shapeSignature: [-1, ...shape.slice(1)] }) - 1;
    return { index, shape: [...shape] };
  }

  /**
   * Tensor names are unique in TF's files; a clash (e.g. a layer named like another's helper tensor) gets a suffix.
   * `self` is the tensor being renamed, whose current name is released.
   */
  private uniqueName(name: string, self?: number): string {
    if (self !== undefined) this.names.delete(this.tensors[self]!.name);
    let unique = name;
    for (let i = 1; this.names.has(unique); i++) unique = `${name}_${i}`;
    this.names.add(unique);
    return unique;
  }
}

function activationQuantization(q: ActivationQuant): QuantizationSpec {
  // The float range the parameters represent, as TF's converter records it.
  return { scale: [q.scale], zeroPoint: [q.zeroPoint], min: [q.scale * (-128 - q.zeroPoint)], max: [q.scale * (127 - q.zeroPoint)] };
}

function fail(message: string): never {
  throw new Error(message);
}
