/**
 * A .tflite file → plain data: the model-level facts (identifier, version, buffers) and its single subgraph as a
 * ModelSpec, operator options aside. For tests and diagnostics: what the exporter wrote, read back through the
 * same generated schema code the TFLite runtimes are built from.
 */
import * as flatbuffers from 'flatbuffers';
import { Model } from './schema/schema_generated.ts';
import type { ModelSpec, OperatorSpec, QuantizationSpec, TensorSpec } from './model-spec.ts';

export interface ReadTflite {
  fileIdentifier: string;
  version: number;
  description: string;
  /** Byte length of each entry of Model.buffers (buffers[0] is the empty one activations point at). */
  bufferSizes: number[];
  /** Byte offset of each buffer's data inside the file (−1 when it has none). */
  bufferOffsets: number[];
  /** Tensors (with constant data), operators (options omitted), inputs, outputs of subgraph 0. */
  graph: Omit<ModelSpec, 'description' | 'metadata'> & { operators: Omit<OperatorSpec, 'options'>[] };
  signatureKeys: string[];
}

export function readTflite(bytes: Uint8Array): ReadTflite {
  const bb = new flatbuffers.ByteBuffer(bytes);
  const fileIdentifier = new TextDecoder().decode(bytes.subarray(4, 8));
  if (!Model.bufferHasIdentifier(bb)) throw new Error(`not a TFLite file: identifier "${fileIdentifier}", expected TFL3`);
  const model = Model.getRootAsModel(bb);
  const buffers = Array.from({ length: model.buffersLength() }, (_, i) => model.buffers(i)!);
  const bufferData = buffers.map((b) => b.dataArray());
  const subgraph = model.subgraphs(0);
  if (!subgraph) throw new Error('the model has no subgraph');

  const tensors: TensorSpec[] = Array.from({ length: subgraph.tensorsLength() }, (_, i) => {
    const t = subgraph.tensors(i)!;
    const data = bufferData[t.buffer()];
    const q = t.quantization();
    const quantization: QuantizationSpec | undefined = q && q.scaleLength() > 0
      ? {
        scale: Array.from(q.scaleArray() ?? []),
        zeroPoint: Array.from({ length: q.zeroPointLength() }, (_, j) => Number(q.zeroPoint(j))),
        quantizedDimension: q.quantizedDimension(),
      }
      : undefined;
    const signature = t.shapeSignatureArray();
    return {
      name: t.name() ?? '',
      type: t.type(),
      shape: Array.from(t.shapeArray() ?? []),
      ...(signature ? { shapeSignature: Array.from(signature) } : {}),
      ...(data && data.length > 0 ? { data: data.slice() } : {}),
      ...(quantization ? { quantization } : {}),
    };
  });
  const operators = Array.from({ length: subgraph.operatorsLength() }, (_, i) => {
    const op = subgraph.operators(i)!;
    const code = model.operatorCodes(op.opcodeIndex())!;
    return {
      op: Math.max(code.builtinCode(), code.deprecatedBuiltinCode()),
      version: code.version(),
      inputs: Array.from(op.inputsArray() ?? []),
      outputs: Array.from(op.outputsArray() ?? []),
    };
  });
  return {
    fileIdentifier,
    version: model.version(),
    description: model.description() ?? '',
    bufferSizes: bufferData.map((d) => d?.length ?? 0),
    bufferOffsets: bufferData.map((d) => (d ? d.byteOffset - bytes.byteOffset : -1)),
    graph: {
      name: subgraph.name() ?? '',
      tensors,
      operators,
      inputs: Array.from(subgraph.inputsArray() ?? []),
      outputs: Array.from(subgraph.outputsArray() ?? []),
    },
    signatureKeys: Array.from({ length: model.signatureDefsLength() }, (_, i) => model.signatureDefs(i)!.signatureKey() ?? ''),
  };
}
