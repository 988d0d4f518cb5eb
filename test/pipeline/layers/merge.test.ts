/**
 * The merge family against tfjs: random element-wise merges of 2–3 inputs (mixing NCHW-held conv outputs with the
 * raw input) and Concatenate along every axis; the channel rule (Add couples producers, Concatenate offsets); strict parse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { layer } from '../../fixtures/ir.ts';
import { caseTests, picker, UNDER, type LayerCase } from './harness.ts';

const none = () => 0;
const MERGES = { Add: tf.layers.add, Multiply: tf.layers.multiply, Average: tf.layers.average, Maximum: tf.layers.maximum, Minimum: tf.layers.minimum };

function mergeCases(count: number): LayerCase[] {
  const p = picker(71);
  return Array.from({ length: count }, (_, i) => {
    const kind = p.pick(Object.keys(MERGES) as Array<keyof typeof MERGES>);
    const arity = p.int(2, 3);
    const withInput = p.bool();
    const name = `${kind.toLowerCase()}_${i}`;
    return {
      name,
      inputShape: [4, 5, 2],
      layers: () => [],
      model: () => {
        const x = tf.input({ shape: [4, 5, 2], name: 'x' });
        const branches = Array.from({ length: arity }, (_, b) =>
          b === 0 && withInput ? x : tf.layers.conv2d({ filters: 2, kernelSize: 1 + (b % 2) * 2, padding: 'same' }).apply(x) as tf.SymbolicTensor);
        const y = MERGES[kind]({ name: UNDER }).apply(branches) as tf.SymbolicTensor;
        return tf.model({ inputs: x, outputs: y, name });
      },
      macs: none,
    };
  });
}

function concatCases(): LayerCase[] {
  return [-1, 1, 2, 3].map((axis) => ({
    name: `concat_axis_${axis}`,
    inputShape: [4, 5, 2],
    layers: () => [],
    model: () => {
      const x = tf.input({ shape: [4, 5, 2], name: 'x' });
      const c = tf.layers.conv2d({ filters: 2, kernelSize: 3, padding: 'same' }).apply(x) as tf.SymbolicTensor;
      const y = tf.layers.concatenate({ axis, name: UNDER }).apply([c, x, c]) as tf.SymbolicTensor;
      return tf.model({ inputs: x, outputs: y, name: `concat_axis_${axis}` });
    },
    macs: none,
  }));
}

const cases = [...mergeCases(8), ...concatCases()];
caseTests('merge', cases);

test('channel rule: Add unites its producers into one group; Concatenate on channels keeps each input its own', async () => {
  const x = tf.input({ shape: [4, 4, 2], name: 'x' });
  const a = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'a' }).apply(x) as tf.SymbolicTensor;
  const b = tf.layers.conv2d({ filters: 3, kernelSize: 1, name: 'b' }).apply(x) as tf.SymbolicTensor;
  const c = tf.layers.conv2d({ filters: 2, kernelSize: 1, name: 'c' }).apply(x) as tf.SymbolicTensor;
  const sum = tf.layers.add({ name: 'sum' }).apply([a, b]) as tf.SymbolicTensor;
  const cat = tf.layers.concatenate({ name: 'cat' }).apply([sum, c]) as tf.SymbolicTensor;
  const head = tf.layers.dense({ units: 2, name: 'head' }).apply(tf.layers.globalAveragePooling2d({}).apply(cat)) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: head });
  const analysis = analyzeChannels(await irFromTfjsModel(model));
  model.dispose();
  assert.deepEqual(analysis.groups.map((g) => g.name).sort(), ['a+b', 'c', 'head']); // head: the output, blocked
  const head_in = analysis.bindings.find((bd) => bd.layer === 'head' && bd.role === 'in')!;
  assert.equal(head_in.classes.length, 5);
});

test('the config parse is strict', () => {
  assert.throws(() => layer('m', 'Concatenate', ['a', 'b'], { axis: 1.5 }), (e: unknown) =>
    isSlimnetError(e) && e.code === 'MODEL_INVALID' && e.where === 'layer "m" (Concatenate)' && /config\.axis/.test(e.message));
  assert.throws(() => layer('m', 'Add', ['a', 'b'], { trainable: 'yes' }), (e: unknown) =>
    isSlimnetError(e) && e.code === 'MODEL_INVALID' && /config\.trainable/.test(e.message));
});

