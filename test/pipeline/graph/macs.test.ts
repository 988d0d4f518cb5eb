import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { countMacs } from '../../../pipeline/graph/macs.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { depthwiseNet, exampleCnn } from '../../fixtures/models.ts';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { inputLayer, layer, model, zeros } from '../../fixtures/ir.ts';

before(async () => {
  await initEngine('wasm');
});

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
