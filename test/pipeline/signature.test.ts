import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LayerIR, ModelIR } from '../../pipeline/ir.ts';
import type { DenseConfig } from '../../pipeline/layers/dense.ts';
import { withConfig } from '../../pipeline/layers/registry.ts';
import { layer as irLayer } from '../fixtures/ir.ts';
import { describeSignature, modelSignature } from '../../pipeline/signature.ts';
import { tinyModelIR } from '../fixtures/tiny-task.ts';

/** The tiny model with the Dense layer's activation set, and optionally more layers after it. */
function withHead(activation: string, after: ModelIR['layers'] = []): ModelIR {
  const ir = tinyModelIR();
  const i = ir.layers.findIndex((l) => l.name === 'dense');
  ir.layers[i] = withConfig(ir.layers[i]! as LayerIR<DenseConfig>, { activation: activation as DenseConfig['activation'] });
  ir.layers.push(...after);
  if (after.length) ir.outputs = [after.at(-1)!.name];
  return ir;
}

const layer = (name: string, className: string, input: string, config: Record<string, unknown> = {}) =>
  irLayer(name, className, [input], { trainable: true, dtype: 'float32', ...config });

test('output meaning comes from the final activation, looking through dropout-like and reshaping layers', () => {
  const meaning = (ir: ModelIR) => modelSignature(ir, {}).outputs[0]!;
  assert.equal(meaning(withHead('softmax')).meaning, 'probabilities');
  assert.equal(meaning(withHead('linear')).meaning, 'logits');
  assert.equal(meaning(withHead('sigmoid')).meaning, 'independent probabilities');
  assert.equal(meaning(withHead('relu')).meaning, 'scores');
  const viaActivation = meaning(withHead('linear', [layer('act', 'Activation', 'dense', { activation: 'softmax' }), layer('drop', 'Dropout', 'act', { rate: 0.5 })]));
  assert.deepEqual([viaActivation.meaning, viaActivation.activation, viaActivation.activationLayer, viaActivation.name], ['probabilities', 'softmax', 'act', 'drop']);
  assert.equal(meaning(withHead('linear', [layer('sm', 'Softmax', 'dense', { axis: -1 })])).meaning, 'probabilities');
  assert.deepEqual(meaning(withHead('softmax')).shape, [null, 3]);
  assert.equal(meaning(withHead('softmax')).classes, 3);
});

test('the input signature states name, shape, layout, dtype and the scaling as configured', () => {
  const uint8 = modelSignature(tinyModelIR(), { source: 'idx', raw: 'uint8', scale: 1 / 255, offset: 0 }).inputs[0]!;
  assert.deepEqual({ ...uint8, scaling: undefined }, { name: 'input', shape: [null, 6, 6, 1], layout: 'NHWC (batch, height, width, channels)', dtype: 'float32', scaling: undefined });
  assert.equal(uint8.scaling.text, 'x = raw / 255 ([0, 255] → [0, 1])');
  const centred = modelSignature(tinyModelIR(), { source: 'idx', raw: 'uint8', scale: 2 / 255, offset: -1 }).inputs[0]!;
  assert.equal(centred.scaling.text, `x = raw · ${2 / 255} − 1 ([0, 255] → [-1, 1])`);
  const asGiven = modelSignature(tinyModelIR(), { source: 'arrays', raw: 'float', scale: 1, offset: 0 }).inputs[0]!;
  assert.equal(asGiven.scaling.text, 'x = raw value, unchanged');
  assert.equal(asGiven.scaling.raw, 'float (as data.load() returns them)');
  const lines = describeSignature(modelSignature(tinyModelIR(), { source: 'idx', raw: 'uint8', scale: 1 / 255, offset: 0 }));
  assert.deepEqual(lines, [
    'input  "input": float32 [batch, 6, 6, 1], layout NHWC (batch, height, width, channels); scaling: x = raw / 255 ([0, 255] → [0, 1])',
    'output "dense": float32 [batch, 3]: probabilities (each row sums to 1), from the softmax of layer "dense"; predicted class = index of the largest of its 3 values',
  ]);
});
