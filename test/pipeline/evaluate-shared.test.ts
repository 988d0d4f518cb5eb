/**
 * The cut between a candidate and its reference (pipeline/graph/cut.ts) and the shared-prefix evaluation built on it
 * (pipeline/evaluate-shared.ts): on a small residual net and a small MobileNetV2-style depthwise net, every
 * candidate pruned one group at a time must score what its whole model scores on onnxruntime (the same accuracy;
 * outputs within 1e-5 of their scale, float reassociation at the cut). Models are
 * hand-built IRs (no tfjs), 64 samples: the file runs in about three seconds, most of it start-up.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { LabelledSet } from '../../pipeline/data/types.ts';
import { measureSharingPrefix, runSharingPrefix } from '../../pipeline/evaluate-shared.ts';
import { analyzeChannels } from '../../pipeline/graph/channel-groups.ts';
import { findCut, prefixModel, suffixModel } from '../../pipeline/graph/cut.ts';
import { countMacs } from '../../pipeline/graph/macs.ts';
import { inferShapes } from '../../pipeline/graph/shapes.ts';
import { cloneIR, type LayerIR, type ModelIR } from '../../pipeline/ir.ts';
import { classOf } from '../../pipeline/layers/registry.ts';
import { exportOnnx } from '../../pipeline/onnx/export.ts';
import { createOrtSession, predictOrt } from '../../pipeline/onnx/ort.ts';
import { qualityMeter } from '../../pipeline/quality-meter.ts';
import { batches } from '../../pipeline/data/splits.ts';
import { removeChannels } from '../../pipeline/prune/remove-channels.ts';
import { createRng } from '../../pipeline/random.ts';
import { inputLayer, layer } from '../fixtures/ir.ts';

const conv = (name: string, input: string, filters: number, kernel: number, strides = 1, activation = 'linear') =>
  layer(name, 'Conv2D', [input], { filters, kernel_size: [kernel, kernel], strides: [strides, strides], padding: 'same', activation, use_bias: false });
const bn = (name: string, input: string) => layer(name, 'BatchNormalization', [input], { axis: -1, epsilon: 1e-3, center: true, scale: true });
const relu = (name: string, input: string, max?: number) => layer(name, 'ReLU', [input], max === undefined ? {} : { max_value: max });

/** Seeded weights of the declared shapes; BatchNormalization variances positive. */
function withWeights(layers: LayerIR[], seed: number): ModelIR {
  const ir: ModelIR = { name: 'net', layers, inputs: [layers[0]!.name], outputs: [layers.at(-1)!.name] };
  const shapes = inferShapes(ir);
  const rng = createRng(seed);
  for (const l of ir.layers) {
    const specs = classOf(l).weights(l, l.inputs.map((n) => shapes.get(n)!));
    l.weights = specs.map((w) => {
      const n = w.shape.reduce((a, b) => a * b, 1);
      const values = Float32Array.from({ length: n }, () => (w.name === 'moving_variance' ? 0.5 + rng.next() : w.name === 'gamma' ? 0.5 + rng.next() : rng.normal() * 0.4));
      return { name: w.name, shape: [...w.shape], values };
    });
  }
  return ir;
}

/** Stride-2 stem; a block with a 1×1 projection shortcut (conv + BN); an identity block; GAP → Dense. */
function residualNet(): ModelIR {
  return withWeights([
    inputLayer([12, 12, 3]),
    conv('stem', 'in', 8, 3, 2), bn('stem_bn', 'stem'), relu('stem_relu', 'stem_bn'),
    conv('b1_c1', 'stem_relu', 12, 3), bn('b1_bn1', 'b1_c1'), relu('b1_r1', 'b1_bn1'), conv('b1_c2', 'b1_r1', 12, 3), bn('b1_bn2', 'b1_c2'),
    conv('b1_proj', 'stem_relu', 12, 1), bn('b1_proj_bn', 'b1_proj'), layer('b1_add', 'Add', ['b1_bn2', 'b1_proj_bn']), relu('b1_out', 'b1_add'),
    conv('b2_c1', 'b1_out', 12, 3), bn('b2_bn1', 'b2_c1'), relu('b2_r1', 'b2_bn1'), conv('b2_c2', 'b2_r1', 12, 3), bn('b2_bn2', 'b2_c2'),
    layer('b2_add', 'Add', ['b2_bn2', 'b1_out']), relu('b2_out', 'b2_add'),
    layer('gap', 'GlobalAveragePooling2D', ['b2_out']), layer('head', 'Dense', ['gap'], { units: 4, activation: 'softmax', use_bias: true }),
  ], 11);
}

/** MobileNetV2-style: ReLU6, an inverted residual (expand, depthwise, linear projection, Add), a stride-2 block. */
function depthwiseNet(): ModelIR {
  const dw = (name: string, input: string, strides: number, padding: string) =>
    layer(name, 'DepthwiseConv2D', [input], { kernel_size: [3, 3], strides: [strides, strides], padding, depth_multiplier: 1, activation: 'linear', use_bias: false });
  return withWeights([
    inputLayer([10, 10, 3]),
    conv('stem', 'in', 8, 3, 2), bn('stem_bn', 'stem'), relu('stem_relu', 'stem_bn', 6),
    conv('e1', 'stem_relu', 16, 1), bn('e1_bn', 'e1'), relu('e1_relu', 'e1_bn', 6), dw('d1', 'e1_relu', 1, 'same'), bn('d1_bn', 'd1'), relu('d1_relu', 'd1_bn', 6),
    conv('p1', 'd1_relu', 8, 1), bn('p1_bn', 'p1'), layer('add1', 'Add', ['p1_bn', 'stem_relu']),
    conv('e2', 'add1', 16, 1), bn('e2_bn', 'e2'), relu('e2_relu', 'e2_bn', 6), layer('pad2', 'ZeroPadding2D', ['e2_relu'], { padding: [[0, 1], [0, 1]] }),
    dw('d2', 'pad2', 2, 'valid'), bn('d2_bn', 'd2'), relu('d2_relu', 'd2_bn', 6), conv('p2', 'd2_relu', 12, 1), bn('p2_bn', 'p2'),
    conv('top', 'p2_bn', 16, 1), bn('top_bn', 'top'), relu('top_relu', 'top_bn', 6),
    layer('gap', 'GlobalAveragePooling2D', ['top_relu']), layer('head', 'Dense', ['gap'], { units: 4, activation: 'linear', use_bias: true }),
  ], 12);
}

function randomSet(shape: number[], count: number, seed: number): LabelledSet {
  const rng = createRng(seed);
  const per = shape.reduce((a, b) => a * b, 1);
  return { x: Float32Array.from({ length: count * per }, () => rng.next() * 2 - 1), y: Int32Array.from({ length: count }, () => rng.int(4)), count, sampleShape: shape, numClasses: 4 };
}

/** One candidate per prunable group (its first half removed, as the sensitivity analysis makes them), plus the reference itself. */
function candidatesOf(ir: ModelIR): { name: string; ir: ModelIR }[] {
  const analysis = analyzeChannels(ir);
  const out = analysis.groups.flatMap((g) => {
    const free = g.classes.filter((k) => !g.blocked.has(k));
    return free.length < 2 ? [] : [{ name: g.name, ir: removeChannels(ir, analysis, new Set(free.slice(0, free.length >> 1))) }];
  });
  return [...out, { name: 'unchanged copy', ir: cloneIR(ir) }];
}

test('the cut is the first changed layer\'s input plus every skip connection that bypasses it into the suffix', () => {
  const ir = residualNet();
  const touched = cloneIR(ir);
  touched.layers.find((l) => l.name === 'b1_c2')!.weights[0]!.values[0]! += 1;
  // b1_c2 changed: b1_bn2, b1_add, ... follow; the projection branch (b1_proj_bn) bypasses it into the Add.
  assert.deepEqual(findCut(ir, touched), {
    tensors: ['b1_r1', 'b1_proj_bn'],
    suffix: ['b1_c2', 'b1_bn2', 'b1_add', 'b1_out', 'b2_c1', 'b2_bn1', 'b2_r1', 'b2_c2', 'b2_bn2', 'b2_add', 'b2_out', 'gap', 'head'],
  });
  const late = cloneIR(ir);
  late.layers.find((l) => l.name === 'b2_c2')!.weights[0]!.values[3]! *= 2;
  // In the identity block the skip tensor (b1_out) is both the block's input and the Add's other operand.
  assert.deepEqual(findCut(ir, late)!.tensors, ['b1_out', 'b2_r1']);
  assert.equal(findCut(ir, cloneIR(ir)), undefined, 'an unchanged copy has no suffix');
  const first = cloneIR(ir);
  first.layers.find((l) => l.name === 'stem')!.weights[0]!.values[0]! += 1;
  assert.deepEqual(findCut(ir, first)!.tensors, ['in']);
  assert.equal(prefixModel(ir, ['in']), undefined, 'a cut at the model input has no prefix');

  const cut = findCut(ir, touched)!;
  const prefix = prefixModel(ir, cut.tensors)!;
  assert.deepEqual(prefix.outputs, ['b1_r1', 'b1_proj_bn']);
  assert.ok(!prefix.layers.some((l) => cut.suffix.includes(l.name)), 'the prefix holds no suffix layer');
  const suffix = suffixModel(touched, cut, inferShapes(ir));
  assert.deepEqual(suffix.inputs, cut.tensors);
  assert.deepEqual(inferShapes(suffix).get('head'), [4]);
  // Neither half copies weights: they are the reference's and the candidate's own arrays.
  assert.equal(prefix.layers.find((l) => l.name === 'stem')!.weights[0], ir.layers.find((l) => l.name === 'stem')!.weights[0]);
  assert.equal(suffix.layers.find((l) => l.name === 'b2_c1')!.weights[0], touched.layers.find((l) => l.name === 'b2_c1')!.weights[0]);
});

for (const [label, build] of [['residual net (1×1 projection shortcut, identity block)', residualNet], ['depthwise net (inverted residual, ReLU6, stride-2 depthwise)', depthwiseNet]] as const) {
  test(`${label}: every one-group candidate scores through the shared prefix what its whole model scores`, async () => {
    const ir = build();
    const set = randomSet(inferShapes(ir).get('in')!, 64, 3);
    const candidates = candidatesOf(ir);
    assert.ok(candidates.length >= 4, `${candidates.length - 1} groups`);
    const shared = candidates.map(() => [] as Float32Array[]);
    const opts = { batchSize: 40, memoryBytes: 1 << 30, concurrency: 2 };
    const reuse = await runSharingPrefix(ir, candidates.map((c) => c.ir), set, opts, (i, out) => shared[i]!.push(out.slice()));
    const { results } = await measureSharingPrefix(ir, candidates.map((c) => c.ir), set, opts);
    for (const [i, c] of candidates.entries()) {
      const session = await createOrtSession(exportOnnx(c.ir), { threads: 1 });
      const whole = await predictOrt(session, set, 40);
      await session.release();
      // measureQuality's meter over the whole model's outputs (batch by batch, as evaluateCandidate feeds it).
      const meter = qualityMeter(set);
      for (const b of batches(set, 40)) meter.add(whole.subarray(b.start * 4, (b.start + b.size) * 4), b);
      const alone = meter.result();
      const viaPrefix = Float32Array.from(shared[i]!.flatMap((b) => [...b]));
      let worst = 0;
      let scale = 0;
      for (let k = 0; k < whole.length; k++) [worst, scale] = [Math.max(worst, Math.abs(whole[k]! - viaPrefix[k]!)), Math.max(scale, Math.abs(whole[k]!))];
      assert.equal(viaPrefix.length, whole.length, c.name);
      assert.ok(worst <= 1e-5 * scale, `${c.name}: max |Δ| ${worst} (scale ${scale})`);
      assert.equal(results[i]!.accuracy, alone.accuracy, `${c.name}: accuracy`);
      assert.ok(Math.abs(results[i]!.loss - alone.loss) <= 1e-6, `${c.name}: loss ${results[i]!.loss} vs ${alone.loss}`);
    }
    // The prefix runs once for all candidates: fewer MACs than running each whole, by the IR's own count.
    const whole = candidates.reduce((s, c) => s + countMacs(c.ir).total, 0) * set.count;
    assert.equal(reuse.macsWhole, whole);
    assert.ok(reuse.macsShared < whole, `${reuse.macsShared} vs ${whole}`);
    assert.equal(reuse.suffixOnly, candidates.length - 1, 'every pruned candidate ran only its suffix');
  });
}
