/** ModelSpec → .tflite bytes → read back: the file layout TFLite runtimes expect, and every field round-trips. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BuiltinOperator, TensorType } from '../../../../pipeline/formats/tflite/model-spec.ts';
import { readTflite } from '../../../../pipeline/formats/tflite/read.ts';
import { serializeTflite } from '../../../../pipeline/formats/tflite/serialize.ts';
import { fullyConnectedSpec } from './specs.ts';

test('a written model carries TFL3, schema version 3, an empty buffers[0] and 16-byte aligned constants', () => {
  const bytes = serializeTflite(fullyConnectedSpec());
  const model = readTflite(bytes);
  assert.equal(model.fileIdentifier, 'TFL3');
  assert.equal(model.version, 3);
  assert.equal(model.description, 'test');
  assert.equal(model.bufferSizes[0], 0);
  // Two constants, each in its own buffer.
  assert.deepEqual(model.bufferSizes.slice(1), [24, 8]);
  for (const offset of model.bufferOffsets.slice(1)) assert.equal(offset % 16, 0, `buffer at ${offset} is not 16-byte aligned`);
  assert.deepEqual(model.signatureKeys, ['serving_default']);
});

test('constants holding the same bytes share one buffer (an unrolled recurrent layer reads its weights at every step)', () => {
  const spec = fullyConnectedSpec();
  const [, weights, bias] = spec.tensors;
  spec.tensors.push({ ...weights!, name: 'weights_again', data: weights!.data!.slice() }, { ...bias!, name: 'bias_changed', data: Uint8Array.from(bias!.data!, (v, i) => (i === 0 ? v ^ 1 : v)) });
  const model = readTflite(serializeTflite(spec));
  assert.deepEqual(model.bufferSizes.slice(1), [24, 8, 8]);
  assert.deepEqual([...model.graph.tensors.at(-2)!.data!], [...weights!.data!]);
});

test('tensors, quantisation, operators and op codes round-trip', () => {
  const spec = fullyConnectedSpec();
  spec.tensors.push({
    name: 'q', type: TensorType.INT8, shape: [2, 1], data: Uint8Array.of(127, 0x81),
    quantization: { scale: [0.5, 0.25], zeroPoint: [0, 0], quantizedDimension: 0 },
  });
  const { graph } = readTflite(serializeTflite(spec));
  assert.deepEqual(graph.inputs, [0]);
  assert.deepEqual(graph.outputs, [4]);
  assert.deepEqual(graph.tensors.map((t) => [t.name, t.type, t.shape, t.shapeSignature]), spec.tensors.map((t) => [t.name, t.type, t.shape, t.shapeSignature]));
  assert.deepEqual([...graph.tensors[1]!.data!], [...spec.tensors[1]!.data!]);
  assert.deepEqual(graph.tensors[5]!.quantization, { scale: [0.5, 0.25], zeroPoint: [0, 0], quantizedDimension: 0 });
  // GELU (150) does not fit the deprecated int8 op code field; readers take the larger of the two fields.
  assert.deepEqual(graph.operators, [
    { op: BuiltinOperator.FULLY_CONNECTED, version: 1, inputs: [0, 1, 2], outputs: [3] },
    { op: BuiltinOperator.GELU, version: 1, inputs: [3], outputs: [4] },
  ]);
});

test('bytes that are not a TFLite model are refused with the reason', () => {
  assert.throws(() => readTflite(new Uint8Array(64)), /not a TFLite file/);
});
