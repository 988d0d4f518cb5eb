/** Layer output shapes (graph/shapes.ts) and the MACs counted from them (graph/macs.ts): one file, one start-up. */
import * as tf from '@tensorflow/tfjs';
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { SlimnetError } from '../../../pipeline/errors.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { LAYER_CLASSES } from '../../../pipeline/layers/registry.ts';
import { inputLayer, layer, model, zeros } from '../../fixtures/ir.ts';
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

// MACs (graph/macs.ts)

test('example CNN: hand-computed MACs per layer', async () => {
  const m = exampleCnn();
  const { total, perLayer } = countMacs(await irFromTfjsModel(m));
  assert.deepEqual(perLayer, {
    conv2d_input: 0,
    conv2d: 26 * 26 * 32 * 9, // 194,688
    max_pooling2d: 0,
    flatten: 0,
    dense: 5408 * 128, // 692,224
    dense_1: 128 * 10, // 1,280
  });
  assert.equal(total, 194_688 + 692_224 + 1_280);
  m.dispose();
});

test('depthwise, separable, Dense on a 3-D tensor', async () => {
  const m = depthwiseNet();
  const { perLayer } = countMacs(await irFromTfjsModel(m));
  // in 12x10x3, padded to 15x11x3; dw 3x3 stride 2 same, multiplier 2 -> 8x6x6.
  assert.equal(perLayer.dw, 8 * 6 * 6 * 9);
  // sep: 3x3 (dilated) depthwise on 6 channels at 8x6 + pointwise 6 -> 5.
  assert.equal(perLayer.sep, 8 * 6 * 6 * 9 + 8 * 6 * 6 * 5);
  // up 16x18x5 -> crop 15x15x5 -> avg 3/2 valid 7x7x5 -> conv [2,3] stride [1,2] valid: 6x3x4, kernel 2*3*5.
  assert.equal(perLayer.conv_rect, 6 * 3 * 4 * 2 * 3 * 5);
  // reshape to [18, 4]; dense 4 -> 6 on each of 18 rows.
  assert.equal(perLayer.dense3d, 18 * 4 * 6);
  assert.equal(perLayer.leaky + perLayer.avg + perLayer.softmax, 0);
  m.dispose();
});

test('a grouped Conv2D (Keras groups > 1; tfjs has none) is refused where the layer is made', () => {
  assert.throws(() => layer('c', 'Conv2D', ['in'], { filters: 4, kernel_size: 1, groups: 2 }), (e: unknown) =>
    isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED' && e.where === 'layer "c" (Conv2D)' && /config\.groups/.test(e.message));
});

test('SeparableConv2D counts its depth multiplier (IR-only)', () => {
  const [kh, kw, inC, mult, filters] = [3, 3, 4, 2, 5];
  const ir = model(
    inputLayer([8, 8, inC]),
    layer('sep', 'SeparableConv2D', ['in'], { filters, kernel_size: [kh, kw], padding: 'same', use_bias: false, depth_multiplier: mult }, [
      zeros('depthwise_kernel', [kh, kw, inC, mult]),
      zeros('pointwise_kernel', [1, 1, inC * mult, filters]),
    ]),
  );
  assert.equal(countMacs(ir).total, 8 * 8 * inC * mult * kh * kw + 8 * 8 * inC * mult * filters);
});
