/**
 * ModelSpec → the bytes of a .tflite file, through the flatc-generated schema code (schema/). The only file that
 * touches the FlatBuffer builder. Layout as TF's own converter writes it: identifier `TFL3`, schema version 3,
 * `buffers[0]` empty (activations point at it), one buffer per distinct constant, constant data 16-byte aligned.
 */
import { createHash } from 'node:crypto';
import * as flatbuffers from 'flatbuffers';
import { SlimnetError } from '../../errors.ts';
import {
  ActivationFunctionType, AddOptions, Buffer, BuiltinOperator, BuiltinOptions, CastOptions, ConcatenationOptions, Conv2DOptions,
  DepthwiseConv2DOptions, DequantizeOptions, FullyConnectedOptions, FullyConnectedOptionsWeightsFormat, GatherOptions, GeluOptions,
  HardSwishOptions, LeakyReluOptions, LogSoftmaxOptions, MaximumMinimumOptions, Metadata, Model, MulOptions, Operator,
  NotEqualOptions, OperatorCode, Padding, PadOptions, Pool2DOptions, QuantizationParameters, QuantizeOptions, ReducerOptions,
  ReshapeOptions, ResizeBilinearOptions, ResizeNearestNeighborOptions, SignatureDef, SoftmaxOptions,
  SubGraph, SubOptions, Tensor, TensorMap, TensorType, TransposeConvOptions,
} from './schema/schema_generated.ts';
import {
  TFLITE_FILE_IDENTIFIER, TFLITE_SCHEMA_VERSION, type FusedActivation, type ModelSpec, type OperatorOptions,
  type QuantizationSpec, type TensorSpec,
} from './model-spec.ts';

/** FlatBuffers address with signed 32-bit offsets; TF's converter switches to external buffers past this. */
const MAX_FLATBUFFER_BYTES = 2 ** 31 - 1;
const BUFFER_ALIGNMENT = 16;

const FUSED: Record<FusedActivation, ActivationFunctionType> = {
  none: ActivationFunctionType.NONE,
  relu: ActivationFunctionType.RELU,
  relu6: ActivationFunctionType.RELU6,
};

const PADDING = { same: Padding.SAME, valid: Padding.VALID } as const;

/** Builder internals the bulk byte copy needs (the 2.0.7 runtime has no aligned byte-vector helper). */
interface BuilderInternals {
  space: number;
  bb: flatbuffers.ByteBuffer;
}

/** A [ubyte] vector of `data`, aligned to `alignment`, copied in one go rather than byte by byte. */
function byteVector(b: flatbuffers.Builder, data: Uint8Array, alignment: number): flatbuffers.Offset {
  b.startVector(1, data.length, alignment);
  const internals = b as unknown as BuilderInternals;
  internals.space -= data.length;
  internals.bb.setPosition(internals.space);
  internals.bb.bytes().set(data, internals.space);
  return b.endVector();
}

function options(b: flatbuffers.Builder, o: OperatorOptions): [BuiltinOptions, flatbuffers.Offset] {
  switch (o.kind) {
    case 'conv2d':
      return [BuiltinOptions.Conv2DOptions, Conv2DOptions.createConv2DOptions(
        b, PADDING[o.padding], o.strides[1], o.strides[0], FUSED[o.activation], o.dilation[1], o.dilation[0], TensorType.FLOAT32)];
    case 'depthwiseConv2d':
      return [BuiltinOptions.DepthwiseConv2DOptions, DepthwiseConv2DOptions.createDepthwiseConv2DOptions(
        b, PADDING[o.padding], o.strides[1], o.strides[0], o.depthMultiplier, FUSED[o.activation], o.dilation[1], o.dilation[0])];
    case 'pool2d':
      return [BuiltinOptions.Pool2DOptions, Pool2DOptions.createPool2DOptions(
        b, PADDING[o.padding], o.strides[1], o.strides[0], o.filter[1], o.filter[0], FUSED[o.activation])];
    case 'fullyConnected':
      return [BuiltinOptions.FullyConnectedOptions, FullyConnectedOptions.createFullyConnectedOptions(
        b, FUSED[o.activation], FullyConnectedOptionsWeightsFormat.DEFAULT, false, false, TensorType.FLOAT32)];
    case 'add':
      return [BuiltinOptions.AddOptions, AddOptions.createAddOptions(b, FUSED[o.activation], false)];
    case 'sub':
      return [BuiltinOptions.SubOptions, SubOptions.createSubOptions(b, FUSED[o.activation], false)];
    case 'mul':
      return [BuiltinOptions.MulOptions, MulOptions.createMulOptions(b, FUSED[o.activation])];
    case 'concatenation':
      return [BuiltinOptions.ConcatenationOptions, ConcatenationOptions.createConcatenationOptions(b, o.axis, FUSED[o.activation])];
    case 'reshape':
      return [BuiltinOptions.ReshapeOptions, ReshapeOptions.createReshapeOptions(b, ReshapeOptions.createNewShapeVector(b, o.newShape))];
    case 'softmax':
      return [BuiltinOptions.SoftmaxOptions, SoftmaxOptions.createSoftmaxOptions(b, o.beta)];
    case 'reducer':
      return [BuiltinOptions.ReducerOptions, ReducerOptions.createReducerOptions(b, o.keepDims)];
    case 'leakyRelu':
      return [BuiltinOptions.LeakyReluOptions, LeakyReluOptions.createLeakyReluOptions(b, o.alpha)];
    case 'resize':
      // The options table differs per op; both have the same two fields. The op decides which one is read.
      return [BuiltinOptions.ResizeNearestNeighborOptions, ResizeNearestNeighborOptions.createResizeNearestNeighborOptions(b, o.alignCorners, o.halfPixelCenters)];
    case 'gelu':
      return [BuiltinOptions.GeluOptions, GeluOptions.createGeluOptions(b, o.approximate)];
    case 'gather':
      return [BuiltinOptions.GatherOptions, GatherOptions.createGatherOptions(b, o.axis, 0)];
    case 'notEqual':
      return [BuiltinOptions.NotEqualOptions, NotEqualOptions.createNotEqualOptions(b)];
    case 'transposeConv':
      return [BuiltinOptions.TransposeConvOptions, TransposeConvOptions.createTransposeConvOptions(
        b, PADDING[o.padding], o.strides[1], o.strides[0], ActivationFunctionType.NONE, TensorType.FLOAT32)];
    case 'cast':
      return [BuiltinOptions.CastOptions, CastOptions.createCastOptions(b, o.from, o.to)];
    case 'pad':
      return [BuiltinOptions.PadOptions, PadOptions.createPadOptions(b)];
    case 'logSoftmax':
      return [BuiltinOptions.LogSoftmaxOptions, LogSoftmaxOptions.createLogSoftmaxOptions(b)];
    case 'quantize':
      return [BuiltinOptions.QuantizeOptions, QuantizeOptions.createQuantizeOptions(b)];
    case 'dequantize':
      return [BuiltinOptions.DequantizeOptions, DequantizeOptions.createDequantizeOptions(b)];
    case 'maximumMinimum':
      return [BuiltinOptions.MaximumMinimumOptions, MaximumMinimumOptions.createMaximumMinimumOptions(b)];
    case 'hardSwish':
      return [BuiltinOptions.HardSwishOptions, HardSwishOptions.createHardSwishOptions(b)];
  }
}

/** RESIZE_BILINEAR reads ResizeBilinearOptions: same fields, its own union tag. */
function resizeOptions(b: flatbuffers.Builder, op: BuiltinOperator, o: Extract<OperatorOptions, { kind: 'resize' }>): [BuiltinOptions, flatbuffers.Offset] {
  if (op === BuiltinOperator.RESIZE_BILINEAR) {
    return [BuiltinOptions.ResizeBilinearOptions, ResizeBilinearOptions.createResizeBilinearOptions(b, o.alignCorners, o.halfPixelCenters)];
  }
  return options(b, o);
}

function quantization(b: flatbuffers.Builder, q: QuantizationSpec): flatbuffers.Offset {
  const scale = QuantizationParameters.createScaleVector(b, Float32Array.from(q.scale));
  const zeroPoint = QuantizationParameters.createZeroPointVector(b, q.zeroPoint.map((z) => BigInt(z)));
  const min = q.min ? QuantizationParameters.createMinVector(b, Float32Array.from(q.min)) : 0;
  const max = q.max ? QuantizationParameters.createMaxVector(b, Float32Array.from(q.max)) : 0;
  QuantizationParameters.startQuantizationParameters(b);
  if (min) QuantizationParameters.addMin(b, min);
  if (max) QuantizationParameters.addMax(b, max);
  QuantizationParameters.addScale(b, scale);
  QuantizationParameters.addZeroPoint(b, zeroPoint);
  QuantizationParameters.addQuantizedDimension(b, q.quantizedDimension ?? 0);
  return QuantizationParameters.endQuantizationParameters(b);
}

function tensor(b: flatbuffers.Builder, t: TensorSpec, bufferIndex: number): flatbuffers.Offset {
  const name = b.createString(t.name);
  const shape = Tensor.createShapeVector(b, t.shape);
  const signature = t.shapeSignature ? Tensor.createShapeSignatureVector(b, t.shapeSignature) : 0;
  const quant = t.quantization ? quantization(b, t.quantization) : 0;
  Tensor.startTensor(b);
  Tensor.addShape(b, shape);
  Tensor.addType(b, t.type);
  Tensor.addBuffer(b, bufferIndex);
  Tensor.addName(b, name);
  if (quant) Tensor.addQuantization(b, quant);
  if (signature) Tensor.addShapeSignature(b, signature);
  Tensor.addHasRank(b, true);
  return Tensor.endTensor(b);
}

function buffer(b: flatbuffers.Builder, data: Uint8Array | undefined): flatbuffers.Offset {
  const vector = data ? byteVector(b, data, BUFFER_ALIGNMENT) : 0;
  Buffer.startBuffer(b);
  if (vector) Buffer.addData(b, vector);
  return Buffer.endBuffer(b);
}

function tensorMaps(b: flatbuffers.Builder, spec: ModelSpec, indices: number[]): flatbuffers.Offset[] {
  return indices.map((i) => TensorMap.createTensorMap(b, b.createString(spec.tensors[i]!.name), i));
}

/** The one `serving_default` signature TF's converter writes, so signature runners find inputs and outputs by name. */
function signature(b: flatbuffers.Builder, spec: ModelSpec): flatbuffers.Offset {
  const inputs = SignatureDef.createInputsVector(b, tensorMaps(b, spec, spec.inputs));
  const outputs = SignatureDef.createOutputsVector(b, tensorMaps(b, spec, spec.outputs));
  return SignatureDef.createSignatureDef(b, inputs, outputs, b.createString('serving_default'), 0);
}

export function serializeTflite(spec: ModelSpec): Uint8Array {
  const dataBytes = spec.tensors.reduce((n, t) => n + (t.data ? t.data.length + BUFFER_ALIGNMENT : 0), 0);
  if (dataBytes > MAX_FLATBUFFER_BYTES) {
    throw new SlimnetError('LAYER_UNSUPPORTED', `model "${spec.name}"`, `TFLite export of ${dataBytes} bytes of weights exceeds the 2 GiB FlatBuffer limit`, 'prune or quantise the model first');
  }
  const b = new flatbuffers.Builder(dataBytes + 256 * spec.tensors.length + 1024);

  // Buffers: [0] empty, then one per distinct constant, then one per metadata entry. Constants with the same bytes
  // share a buffer (the schema allows it; TF's converter deduplicates too): an unrolled recurrent layer's weights
  // are read by every time step.
  const bufferOffsets: flatbuffers.Offset[] = [buffer(b, undefined)];
  const seen = new Map<string, Array<{ data: Uint8Array; index: number }>>();
  const tensorBuffer = spec.tensors.map((t) => {
    if (!t.data) return 0;
    const key = createHash('sha256').update(t.data).digest('hex');
    const same = seen.get(key)?.find((e) => e.data.length === t.data!.length && e.data.every((v, i) => v === t.data![i]));
    if (same) return same.index;
    const index = bufferOffsets.push(buffer(b, t.data)) - 1;
    seen.set(key, [...(seen.get(key) ?? []), { data: t.data, index }]);
    return index;
  });
  const metadataEntries = Object.entries(spec.metadata ?? {}).map(([name, data]) => ({ name, index: bufferOffsets.push(buffer(b, data)) - 1 }));

  const tensors = spec.tensors.map((t, i) => tensor(b, t, tensorBuffer[i]!));

  // Operator codes: one per (op, version), in first-use order.
  const codeIndex = new Map<string, number>();
  const codes: flatbuffers.Offset[] = [];
  const operators = spec.operators.map((op) => {
    const key = `${op.op}@${op.version}`;
    let opcode = codeIndex.get(key);
    if (opcode === undefined) {
      opcode = codes.length;
      codeIndex.set(key, opcode);
      // deprecated_builtin_code is what runtimes older than schema 3a read; codes past 127 go in builtin_code only.
      codes.push(OperatorCode.createOperatorCode(b, Math.min(op.op, BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES), 0, op.version, op.op));
    }
    const inputs = Operator.createInputsVector(b, op.inputs);
    const outputs = Operator.createOutputsVector(b, op.outputs);
    const [optionsType, optionsOffset] = !op.options
      ? [BuiltinOptions.NONE, 0]
      : op.options.kind === 'resize' ? resizeOptions(b, op.op, op.options) : options(b, op.options);
    Operator.startOperator(b);
    Operator.addOpcodeIndex(b, opcode);
    Operator.addInputs(b, inputs);
    Operator.addOutputs(b, outputs);
    if (optionsOffset) {
      Operator.addBuiltinOptionsType(b, optionsType);
      Operator.addBuiltinOptions(b, optionsOffset);
    }
    return Operator.endOperator(b);
  });

  const subgraph = SubGraph.createSubGraph(
    b,
    SubGraph.createTensorsVector(b, tensors),
    SubGraph.createInputsVector(b, spec.inputs),
    SubGraph.createOutputsVector(b, spec.outputs),
    SubGraph.createOperatorsVector(b, operators),
    b.createString(spec.name),
    0,
  );
  const metadata = metadataEntries.map((m) => Metadata.createMetadata(b, b.createString(m.name), m.index));
  const signatures = [signature(b, spec)];

  const description = b.createString(spec.description);
  const codesVector = Model.createOperatorCodesVector(b, codes);
  const subgraphs = Model.createSubgraphsVector(b, [subgraph]);
  const buffers = Model.createBuffersVector(b, bufferOffsets);
  const metadataVector = metadata.length ? Model.createMetadataVector(b, metadata) : 0;
  const signatureVector = Model.createSignatureDefsVector(b, signatures);
  Model.startModel(b);
  Model.addVersion(b, TFLITE_SCHEMA_VERSION);
  Model.addOperatorCodes(b, codesVector);
  Model.addSubgraphs(b, subgraphs);
  Model.addDescription(b, description);
  Model.addBuffers(b, buffers);
  if (metadataVector) Model.addMetadata(b, metadataVector);
  Model.addSignatureDefs(b, signatureVector);
  b.finish(Model.endModel(b), TFLITE_FILE_IDENTIFIER);
  return b.asUint8Array().slice();
}
