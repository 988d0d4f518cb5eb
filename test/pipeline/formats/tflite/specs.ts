/** Hand-written TFLite models for the serializer and runtime tests. */
import { BuiltinOperator, TensorType, type ModelSpec } from '../../../../pipeline/formats/tflite/model-spec.ts';

const f32 = (values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** y = relu(x · Wᵀ + b) on [1, 3] → [1, 2], then GELU (an op code above 127) on the result. */
export function fullyConnectedSpec(): ModelSpec {
  return {
    description: 'test',
    name: 'fc',
    tensors: [
      { name: 'x', type: TensorType.FLOAT32, shape: [1, 3], shapeSignature: [-1, 3] },
      { name: 'w', type: TensorType.FLOAT32, shape: [2, 3], data: f32([1, 2, 3, 4, 5, 6]) },
      { name: 'b', type: TensorType.FLOAT32, shape: [2], data: f32([0.5, -100]) },
      { name: 'fc', type: TensorType.FLOAT32, shape: [1, 2], shapeSignature: [-1, 2] },
      { name: 'y', type: TensorType.FLOAT32, shape: [1, 2], shapeSignature: [-1, 2] },
    ],
    operators: [
      { op: BuiltinOperator.FULLY_CONNECTED, version: 1, inputs: [0, 1, 2], outputs: [3], options: { kind: 'fullyConnected', activation: 'relu' } },
      { op: BuiltinOperator.GELU, version: 1, inputs: [3], outputs: [4], options: { kind: 'gelu', approximate: false } },
    ],
    inputs: [0],
    outputs: [4],
  };
}
