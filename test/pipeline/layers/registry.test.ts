/**
 * The registry's contract: one record per class; a class it lacks is refused the same way by every consumer (or
 * blocks its channels in pruning); typed configs are frozen and edited only through withConfig, which keeps the
 * Keras JSON's key order; createLayer writes exactly what tfjs would.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { initEngine } from '../../../pipeline/engine.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { analyzeChannels } from '../../../pipeline/graph/channel-groups.ts';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { createLayer } from '../../../pipeline/layers/create.ts';
import { isClass, LAYER_CLASSES, layerClass, withConfig } from '../../../pipeline/layers/registry.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { canTrainOnOrt } from '../../../pipeline/train/ort/support.ts';
import { inputLayer, layer, model, zeros } from '../../fixtures/ir.ts';

before(async () => {
  await initEngine('cpu');
});

test('the registry lists every class its families declare, each under its own name', () => {
  assert.deepEqual([...LAYER_CLASSES], [...LAYER_CLASSES].sort());
  for (const name of LAYER_CLASSES) assert.equal(layerClass(name)!.className, name);
  for (const name of ['InputLayer', 'Conv2D', 'DepthwiseConv2D', 'Dense', 'BatchNormalization', 'MaxPooling2D', 'Add', 'Concatenate', 'Flatten', 'ZeroPadding2D', 'ReLU', 'Dropout']) {
    assert.ok(LAYER_CLASSES.includes(name), name);
  }
});

test('a class the registry lacks: one named error for shapes, MACs and export; ORT refuses it; pruning blocks its channels; reading works', () => {
  const ir = model(
    inputLayer([4, 4, 2]),
    layer('c', 'Conv2D', ['in'], { filters: 3, kernel_size: 1 }, [zeros('kernel', [1, 1, 2, 3]), zeros('bias', [3])]),
    layer('odd', 'Lambda', ['c'], { function: 'x => x' }),
    layer('head', 'Dense', ['odd'], { units: 2 }, [zeros('kernel', [3, 2]), zeros('bias', [2])]),
  );
  const named = (e: unknown) => isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && e.where === 'layer "odd" (Lambda)' && e.message === 'slimnet does not support Lambda layers';
  assert.throws(() => inferShapes(ir), named);
  assert.throws(() => countMacs(ir), named);
  assert.throws(() => exportOnnx(ir), named);
  assert.deepEqual(canTrainOnOrt(ir), { ok: false, layer: 'odd', className: 'Lambda', reason: 'slimnet does not support Lambda layers' });
  const shapes = new Map([['in', [4, 4, 2]], ['c', [4, 4, 3]], ['odd', [4, 4, 3]], ['head', [4, 4, 2]]]);
  const a = analyzeChannels(ir, shapes);
  assert.deepEqual(a.unsupported, [{ layer: 'odd', className: 'Lambda', reason: 'slimnet does not support Lambda layers' }]);
  assert.equal(a.groups.find((g) => g.name === 'c')!.blocked.size, 3);
  assert.deepEqual(Object.keys(ir.layers[2]!.config).sort(), ['name', 'trainable']);
});

test('a size, stride or rate past int32 is a config error; a window that does not fit its input is a shape error, on the layer', () => {
  // ONNX and TFLite hold these as int32: 2^53 once broke XNNPACK's conv setup inside onnxruntime (exit 3).
  assert.throws(() => layer('c', 'Conv2D', ['in'], { filters: 3, kernel_size: 3, padding: 'same', dilation_rate: 2 ** 53 }),
    (e: unknown) => isSlimnetError(e) && /config\.dilation_rate should be an integer from 1 to 2\^31−1 or a pair of them, got 9007199254740992/.test(e.message));
  assert.throws(() => layer('d', 'Dense', ['in'], { units: 2 ** 31 }), (e: unknown) => isSlimnetError(e) && /config\.units should be an integer from 1 to 2\^31−1/.test(e.message));
  const ir = model(inputLayer([4, 4, 2]), layer('p', 'MaxPooling2D', ['in'], { pool_size: 5 }));
  assert.throws(() => inferShapes(ir), (e: unknown) => isSlimnetError(e) && e.where === 'layer "p" (MaxPooling2D)' &&
    /its output shape would be \[0,0,2\] for input \[4,4,2\]: its config does not fit its input/.test(e.message));
});

test('configs are frozen; withConfig rewrites the Keras key in place (key order kept), reparses, and leaves the old layer alone', () => {
  const conv = layer('c', 'Conv2D', ['in'], { filters: 8, kernel_size: 3, padding: 'same', activation: 'relu', use_bias: true });
  assert.throws(() => { (conv.config as unknown as { filters: number }).filters = 2; }, TypeError);
  assert.throws(() => { (conv.keras as Record<string, unknown>).filters = 2; }, TypeError);
  assert.ok(isClass(conv, 'Conv2D'));
  const smaller = withConfig(conv, { filters: 5, activation: 'linear' });
  assert.deepEqual(Object.keys(smaller.keras), Object.keys(conv.keras));
  assert.equal(smaller.keras.filters, 5);
  assert.equal(smaller.config.filters, 5);
  assert.equal(smaller.config.activation, 'linear');
  assert.equal(conv.config.filters, 8);
  assert.deepEqual(smaller.config.kernelSize, [3, 3]);
  assert.equal(smaller.keras.kernel_size, 3); // an untouched key keeps the form it was written in
  assert.throws(() => withConfig(conv, { filters: 0 }), (e: unknown) => isSlimnetError(e) && /config\.filters/.test(e.message));
  assert.throws(() => withConfig(conv, { nonsense: 1 } as never), /no config field "nonsense"/);
});

test('createLayer writes what tfjs saves for the same layer (defaults, key order, initializers)', async () => {
  const cases = [
    { className: 'Conv2D' as const, args: { name: 'pw', filters: 6, kernelSize: 1, useBias: false }, tfjs: () => tf.layers.conv2d({ name: 'pw', filters: 6, kernelSize: 1, useBias: false }) },
    { className: 'DepthwiseConv2D' as const, args: { name: 'dw', kernelSize: 3, padding: 'same' as const }, tfjs: () => tf.layers.depthwiseConv2d({ name: 'dw', kernelSize: 3, padding: 'same' }) },
    { className: 'Dense' as const, args: { name: 'low', units: 4, useBias: false }, tfjs: () => tf.layers.dense({ name: 'low', units: 4, useBias: false }) },
  ];
  for (const c of cases) {
    const m = tf.sequential({ layers: [tf.layers.inputLayer({ inputShape: [5, 5, 2], name: 'x' }), c.tfjs()] });
    const saved = (await irFromTfjsModel(m)).layers[1]!;
    m.dispose();
    const created = createLayer(c.className, c.args as never, ['x']);
    assert.equal(JSON.stringify(created.keras), JSON.stringify(saved.keras), c.className);
    assert.deepEqual(created.config, saved.config);
  }
});

test('every class declares its weights and, for each weight, a quantisation axis or none (never an axis outside the weight)', () => {
  const shapes: Record<string, number[][]> = { '1d': [[6, 3]], '2d': [[6, 6, 3]], flat: [[5]] };
  for (const name of LAYER_CLASSES) {
    const cls = layerClass(name)!;
    if (cls.arity !== 'one' || !cls.quantizationAxis) continue;
    const keras: Record<string, unknown> = { filters: 2, units: 2, input_dim: 7, output_dim: 3, kernel_size: name === 'Conv1D' ? 3 : [3, 3], layer: { class_name: 'GRU', config: { name: 'g', units: 2 } } };
    const l = layer('q', name, ['in'], keras);
    const sequence = name === 'Conv1D' || cls.family === 'recurrent';
    const input = sequence ? shapes['1d']! : name === 'Dense' ? shapes.flat! : shapes['2d']!;
    for (const w of cls.weights(l, input)) {
      const axis = cls.quantizationAxis(l, w);
      if (w.name === 'bias') assert.equal(axis, undefined, `${name}/bias is not quantised per channel`);
      if (!axis) continue;
      assert.equal(axis.shape.reduce((a, b) => a * b, 1), w.shape.reduce((a, b) => a * b, 1), `${name}/${w.name}`);
      assert.ok(axis.axis >= 0 && axis.axis < axis.shape.length, `${name}/${w.name}`);
    }
  }
});
