/** InputLayer: its shape keys (tfjs's and Keras's spellings), dtype, the fixed-shape requirement and the strict parse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { isClass } from '../../../pipeline/layers/registry.ts';
import { layer, model } from '../../fixtures/ir.ts';

test('batch_input_shape, batchInputShape and batch_shape all give the typed batchInputShape', () => {
  for (const key of ['batch_input_shape', 'batchInputShape', 'batch_shape']) {
    const l = layer('in', 'InputLayer', [], { [key]: [null, 4, 3] });
    assert.ok(isClass(l, 'InputLayer'));
    assert.deepEqual(l.config.batchInputShape, [null, 4, 3], key);
    assert.equal(l.config.dtype, 'float32');
    assert.deepEqual(inferShapes(model(l)).get('in'), [4, 3]);
  }
});

test('malformed input shapes and sparse inputs are refused naming the layer and key', () => {
  const bad: Array<[Record<string, unknown>, 'MODEL_INVALID' | 'LAYER_UNSUPPORTED', RegExp]> = [
    [{}, 'MODEL_INVALID', /config\.batch_input_shape/],
    [{ batch_input_shape: [null] }, 'MODEL_INVALID', /config\.batch_input_shape/],
    [{ batch_input_shape: [null, 0, 3] }, 'MODEL_INVALID', /config\.batch_input_shape/],
    [{ batch_input_shape: [null, 2.5] }, 'MODEL_INVALID', /config\.batch_input_shape/],
    [{ batch_input_shape: [null, 4], dtype: 'float16' }, 'MODEL_INVALID', /config\.dtype/],
    [{ batch_input_shape: [null, 4], sparse: true }, 'LAYER_UNSUPPORTED', /config\.sparse/],
  ];
  for (const [keras, code, key] of bad) {
    assert.throws(() => layer('in', 'InputLayer', [], keras), (e: unknown) =>
      isSlimnetError(e) && e.code === code && e.where === 'layer "in" (InputLayer)' && key.test(e.message), JSON.stringify(keras));
  }
  // A free dimension parses (tfjs can run it), but shape inference needs it fixed.
  assert.throws(() => inferShapes(model(layer('in', 'InputLayer', [], { batch_input_shape: [null, null, 3] }))), (e: unknown) =>
    isSlimnetError(e) && e.code === 'MODEL_INVALID' && /unknown dimensions/.test(e.message));
});
