/**
 * The ONNX protobuf types, from the onnx-proto package (protobufjs static code generated from onnx.proto).
 * The package is CommonJS assigning `module.exports = $root`, so Node's ESM loader only sees a default export.
 */
import onnxProto from 'onnx-proto';

export const onnx = onnxProto.onnx;
export type { onnx as OnnxTypes } from 'onnx-proto';

export const FLOAT = onnx.TensorProto.DataType.FLOAT;
export const INT64 = onnx.TensorProto.DataType.INT64;
export const INT8 = onnx.TensorProto.DataType.INT8;
export const UINT8 = onnx.TensorProto.DataType.UINT8;
export const FLOAT16 = onnx.TensorProto.DataType.FLOAT16;
export const UINT16 = onnx.TensorProto.DataType.UINT16;
export const INT32 = onnx.TensorProto.DataType.INT32;

/** Serializes a model to the bytes of a `.onnx` file. */
export function encodeModel(model: onnxProto.onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** Parses `.onnx` bytes (used by tests to look inside an exported model). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
