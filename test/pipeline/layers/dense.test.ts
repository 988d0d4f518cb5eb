/** The dense family against tfjs: random Dense layers on 1-D, 2-D and 3-D samples; quantisation axis; strict parse. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { ACTIVATION_NAMES } from '../../../pipeline/layers/activations/names.ts';
import { isClass } from '../../../pipeline/layers/registry.ts';
import { layer } from '../../fixtures/ir.ts';
import { sequentialOf } from '../onnx/helpers.ts';
import { caseTests, checkQuantizationAxis, picker, prod, UNDER, type LayerCase } from './harness.ts';


type Identifier = Parameters<typeof tf.layers.dense>[0]['activation'];
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as Identifier;

function denseCases(count: number): LayerCase[] {
  const p = picker(31);
  return Array.from({ length: count }, (_, i) => {
    const inputShape = p.pick([[p.int(2, 9)], [p.int(2, 5), p.int(2, 6)], [p.int(2, 4), p.int(2, 4), p.int(1, 3)]]);
    const units = p.int(1, 7);
    const args = { units, useBias: p.bool(), activation: camel(p.pick(ACTIVATION_NAMES)), name: UNDER };
    return {
      name: `dense_${i}`,
      inputShape,
      layers: () => [tf.layers.dense(args)],
      macs: (inS, out) => prod(out.slice(0, -1)) * inS.at(-1)! * units,
    };
  });
}

const cases = denseCases(12);
caseTests('dense', cases);

test('the kernel quantisation axis is 1 (units)', async () => {
  const model = sequentialOf('q_dense', [6], [tf.layers.dense({ units: 4, useBias: false, name: 'q' })]);
  await checkQuantizationAxis(await irFromTfjsModel(model), 'q', 'kernel');
  model.dispose();
});

test('the config parse is strict', () => {
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{}, /config\.units/],
    [{ units: -1 }, /config\.units/],
    [{ units: '3' }, /config\.units/],
    [{ units: 3, activation: 'Relu' }, /config\.activation/],
    [{ units: 3, activation: 7 }, /config\.activation/],
    [{ units: 3, use_bias: null, kernel_constraint: { class_name: 'MaxNorm', config: { max_value: 1e999 } } }, /config\.kernel_constraint/],
    [{ units: 3, kernel_initializer: 'lecun_normal' }, /config\.kernel_initializer/], // tfjs camel-cases it to lecunNormal, which it does not know
  ];
  for (const [keras, key] of bad) {
    assert.throws(() => layer('d', 'Dense', ['in'], keras), (e: unknown) => isSlimnetError(e) && e.code === 'MODEL_INVALID' && e.where === 'layer "d" (Dense)' && key.test(e.message), JSON.stringify(keras));
  }
  // camelCase activation names are what tfjs resolves too; the typed config holds the snake_case name.
  const d = layer('d', 'Dense', ['in'], { units: 2, activation: 'hardSigmoid' });
  assert.ok(isClass(d, 'Dense') && d.config.activation === 'hard_sigmoid');
});

