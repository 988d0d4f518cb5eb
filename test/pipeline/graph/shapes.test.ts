import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { SlimnetError } from '../../../pipeline/errors.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { LAYER_CLASSES } from '../../../pipeline/layers/registry.ts';
import { inputLayer, layer, model } from '../../fixtures/ir.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { depthwiseNet, exampleCnn, functionalResidual, mergeNet, sequentialCnn } from '../../fixtures/models.ts';

before(async () => {
  await initEngine('wasm');
});

/** Conv/pool arithmetic corner cases: odd sizes, stride 2 'same', dilation, rectangular kernels, keepdims-free GAP. */
function convVariants(): tf.LayersModel {
  const input = tf.input({ shape: [11, 9, 2], name: 'in' });
  let x = tf.layers.conv2d({ filters: 3, kernelSize: 3, strides: 2, padding: 'same', name: 'c_same_s2' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.conv2d({ filters: 5, kernelSize: [1, 2], padding: 'valid', dilationRate: [1, 2], name: 'c_dil' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.maxPooling2d({ poolSize: 2, strides: 1, padding: 'same', name: 'mp_s1' }).apply(x) as tf.SymbolicTensor;
  // tfjs ignores a DepthwiseConv2D's dilation; inferShapes must agree with the runtime.
  x = tf.layers.depthwiseConv2d({ kernelSize: 2, padding: 'valid', dilationRate: 2, name: 'dw_valid' }).apply(x) as tf.SymbolicTensor;
  // (depthMultiplier stays 1: tfjs leaves it out of a SeparableConv2D's saved config and cannot load its own model otherwise.)
  x = tf.layers.separableConv2d({ filters: 2, kernelSize: 2, strides: 2, padding: 'same', name: 'sep_s2' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.permute({ dims: [2, 1, 3], name: 'perm' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.conv2dTranspose({ filters: 2, kernelSize: 3, strides: 2, padding: 'valid', name: 'deconv' }).apply(x) as tf.SymbolicTensor;
  x = tf.layers.flatten({ name: 'flat' }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: x });
}

describe('inferShapes agrees with tfjs layer.outputShape', () => {
  const builders = { sequentialCnn, exampleCnn, functionalResidual, depthwiseNet, mergeNet, convVariants };
  for (const [name, build] of Object.entries(builders)) {
    test(name, async () => {
      const model = build();
      const ir = await irFromTfjsModel(model);
      const shapes = inferShapes(ir);
      assert.equal(shapes.size, ir.layers.length);
      let compared = 0;
      for (const layer of model.layers) {
        const tfShape = (layer.outputShape as (number | null)[]).slice(1);
        // tfjs leaves a Reshape's -1 (and what follows from it) unknown; there any positive size is accepted.
        const ours = shapes.get(layer.name)!;
        assert.deepEqual(ours.map((d, i) => (tfShape[i] === null && d > 0 ? null : d)), tfShape, layer.name);
        compared++;
      }
      // Sequential models have no InputLayer in model.layers; ours is synthesised.
      assert.ok(compared >= ir.layers.length - 1);
      if (name === 'depthwiseNet') assert.deepEqual(shapes.get('reshape'), [18, 4]); // 6x3x4 -> [-1, 4]
      model.dispose();
    });
  }
});

describe('inferShapes from hand-written IR', () => {
  test('Subtract broadcasts, Concatenate on axis 2, Reshape with -1, ZeroPadding2D int, UpSampling2D', () => {
    const ir = model(
      inputLayer([4, 6, 3]),
      layer('pad', 'ZeroPadding2D', ['in'], { padding: 1 }),
      layer('crop', 'Cropping2D', ['pad'], { cropping: [1, 2] }),
      layer('gap', 'GlobalAveragePooling2D', ['in']),
      layer('rs1', 'Reshape', ['gap'], { target_shape: [1, 1, 3] }),
      layer('sub', 'Subtract', ['in', 'rs1']),
      layer('cat', 'Concatenate', ['sub', 'in'], { axis: 2 }),
      layer('rs', 'Reshape', ['cat'], { target_shape: [2, -1] }),
      layer('up', 'UpSampling2D', ['crop'], { size: [3, 2] }),
    );
    const s = inferShapes(ir);
    assert.deepEqual(s.get('pad'), [6, 8, 3]);
    assert.deepEqual(s.get('crop'), [4, 4, 3]);
    assert.deepEqual(s.get('gap'), [3]);
    assert.deepEqual(s.get('sub'), [4, 6, 3]);
    assert.deepEqual(s.get('cat'), [4, 12, 3]);
    assert.deepEqual(s.get('rs'), [2, 72]);
    assert.deepEqual(s.get('up'), [12, 8, 3]);
  });

  test('unknown class: LAYER_UNSUPPORTED naming layer and class, hint lists supported classes', () => {
    const ir = model(inputLayer([4]), layer('mystery', 'Lambda', ['in']));
    assert.throws(() => inferShapes(ir), (e: unknown) => {
      assert.ok(e instanceof SlimnetError);
      assert.equal(e.code, 'LAYER_UNSUPPORTED');
      assert.equal(e.where, 'layer "mystery" (Lambda)');
      assert.equal(e.message, 'slimnet does not support Lambda layers');
      assert.match(e.hint!, /Conv2D/);
      return true;
    });
    assert.ok(LAYER_CLASSES.includes('SeparableConv2D'));
  });

  test('mismatched merges, bad reshapes, variable input sizes, wrong ranks are named errors', () => {
    const cases: Array<[() => ModelIR, string, string]> = [
      [() => model(inputLayer([4, 4, 2]), layer('p', 'MaxPooling2D', ['in']), layer('bad_add', 'Add', ['in', 'p'])), 'MODEL_INVALID', 'layer "bad_add" (Add)'],
      [() => model(inputLayer([4, 4, 2]), layer('p', 'MaxPooling2D', ['in']), layer('bad_cat', 'Concatenate', ['in', 'p'])), 'MODEL_INVALID', 'layer "bad_cat" (Concatenate)'],
      [() => model(inputLayer([6]), layer('bad_rs', 'Reshape', ['in'], { target_shape: [4, -1] })), 'MODEL_INVALID', 'layer "bad_rs" (Reshape)'],
      [() => model(inputLayer([null, null, 3]), layer('f', 'Flatten', ['in'])), 'MODEL_INVALID', 'layer "in" (InputLayer)'],
      [() => model(inputLayer([8]), layer('d2', 'Conv2D', ['in'], { filters: 1, kernel_size: 1 })), 'MODEL_INVALID', 'layer "d2" (Conv2D)'],
      [() => model(inputLayer([4, 4, 2]), layer('two', 'Dense', ['in', 'in'], { units: 2 })), 'MODEL_INVALID', 'layer "two" (Dense)'],
    ];
    for (const [build, code, where] of cases) {
      assert.throws(() => inferShapes(build()), (e: unknown) => e instanceof SlimnetError && e.code === code && e.where === where, where);
    }
  });
});
