import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { analyzeChannels, type ChannelAnalysis, type ChannelGroup } from '../../../pipeline/graph/channel-groups.ts';
import type { LayerIR, ModelIR } from '../../../pipeline/ir.ts';
import { irFromTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import { depthwiseNet, functionalResidual, mergeNet, sequentialCnn } from '../../fixtures/models.ts';
import { depthwiseChain, residualConcat } from '../prune/prunable-models.ts';
import { inputLayer, layer, zeros } from '../../fixtures/ir.ts';

before(async () => {
  await initEngine('wasm');
});

function group(a: ChannelAnalysis, name: string): ChannelGroup {
  const g = a.groups.find((x) => x.name === name);
  assert.ok(g, `no group ${name}; groups: ${a.groups.map((x) => x.name).join(', ')}`);
  return g;
}

function binding(a: ChannelAnalysis, layer: string, weight: string, axis: number) {
  const b = a.bindings.find((x) => x.layer === layer && x.weight === weight && x.axis === axis);
  assert.ok(b, `no binding ${layer}/${weight} axis ${axis}`);
  return b;
}

test('Flatten → Dense: each conv channel owns one row per spatial position, NHWC order', async () => {
  const a = analyzeChannels(await irFromTfjsModel(sequentialCnn()));
  const conv = a.producerClasses.get('conv')!;
  const rows = binding(a, 'fc1', 'kernel', 0).classes;
  assert.equal(rows.length, 3 * 3 * 4); // pool output 3x3x4
  for (let i = 0; i < rows.length; i++) assert.equal(rows[i], conv[i % 4]);
  assert.equal(group(a, 'conv').blocked.size, 0);
  assert.equal(group(a, 'fc1').blocked.size, 0);
  // The output layer is never pruned (its softmax couples the units, and it is the model output).
  assert.equal(group(a, 'fc2').blocked.size, 3);
  assert.deepEqual(group(a, 'conv').members.map((m) => `${m.layer}:${m.role}`), ['conv:out', 'fc1:in']);
});

test('residual Add couples both branches channel by channel; BatchNormalization and Concatenate offsets follow', async () => {
  const a = analyzeChannels(await irFromTfjsModel(functionalResidual()));
  const res = group(a, 'conv_a+proj');
  assert.deepEqual(res.producers, ['conv_a', 'proj']);
  assert.deepEqual([...a.producerClasses.get('conv_a')!], [...a.producerClasses.get('proj')!]);
  assert.deepEqual([...binding(a, 'bn_a', 'gamma', 0).classes], [...a.producerClasses.get('conv_a')!]);
  // cat = [residual (4), side (2)]: bn_b and the head's rows follow the offsets.
  const expected = [...a.producerClasses.get('conv_a')!, ...a.producerClasses.get('side')!];
  assert.deepEqual([...binding(a, 'bn_b', 'gamma', 0).classes], expected);
  assert.deepEqual([...binding(a, 'head', 'kernel', 0).classes], expected); // GlobalAveragePooling → Dense
  assert.equal(group(a, 'side').classes.length, 2);
  assert.equal(res.blocked.size + group(a, 'side').blocked.size, 0);
});

test('Add + Concatenate + Multiply gate tie four producers into one group with offset-aligned classes', async () => {
  const a = analyzeChannels(await irFromTfjsModel(residualConcat()));
  const g = group(a, 'conv_a+conv_b+conv_c+gate');
  assert.equal(g.classes.length, 7);
  const gate = [...a.producerClasses.get('gate')!];
  assert.deepEqual(gate.slice(0, 4), [...a.producerClasses.get('conv_a')!]);
  assert.deepEqual(gate.slice(0, 4), [...a.producerClasses.get('conv_b')!]);
  assert.deepEqual(gate.slice(4), [...a.producerClasses.get('conv_c')!]);
  assert.deepEqual([...binding(a, 'conv_d', 'kernel', 2).classes], gate);
  assert.equal(group(a, 'head').blocked.get(a.producerClasses.get('head')![0]!), 'model output');
});

test('DepthwiseConv2D passes channels through (multiplier repeats them); SeparableConv2D consumes them', async () => {
  const a = analyzeChannels(await irFromTfjsModel(depthwiseChain()));
  const conv1 = [...a.producerClasses.get('conv1')!];
  assert.deepEqual([...binding(a, 'dw', 'depthwise_kernel', 2).classes], conv1);
  assert.deepEqual([...binding(a, 'dw', 'bias', 0).classes], conv1.flatMap((k) => [k, k]));
  assert.deepEqual([...binding(a, 'sep', 'depthwise_kernel', 2).classes], conv1.flatMap((k) => [k, k]));
  assert.deepEqual([...binding(a, 'sep', 'pointwise_kernel', 2).classes], conv1.flatMap((k) => [k, k]));
  assert.deepEqual(group(a, 'conv1').members.map((m) => `${m.layer}:${m.role}`), ['conv1:out', 'bn1:through', 'dw:through', 'sep:in']);
  assert.equal(group(a, 'conv1').blocked.size, 0);
});

test('a Reshape blocks only the channels flowing into it; softmax across channels blocks too', async () => {
  const a = analyzeChannels(await irFromTfjsModel(depthwiseNet()));
  assert.deepEqual(a.unsupported.map((u) => u.layer), ['reshape']);
  assert.equal(group(a, 'sep').blocked.size, 0); // upstream of the reshape's input producer: still prunable
  const convRect = group(a, 'conv_rect');
  assert.equal(convRect.blocked.size, 4);
  assert.match([...convRect.blocked.values()][0]!, /layer "reshape" \(Reshape\) is not understood/);
  assert.match([...group(a, 'dense3d').blocked.values()][0]!, /softmax/);
});

test('model inputs are never pruned: merges of inputs leave nothing removable', async () => {
  const a = analyzeChannels(await irFromTfjsModel(mergeNet()));
  assert.deepEqual(a.unsupported, []);
  for (const g of a.groups) assert.equal(g.blocked.size, g.classes.length, g.name);
});

/** An IR with a layer class nobody knows, between two convolutions; shapes supplied by hand. */
function mysteryIR(): { ir: ModelIR; shapes: Map<string, number[]> } {
  const conv = (name: string, input: string, inC: number, outC: number): LayerIR =>
    layer(name, 'Conv2D', [input], { filters: outC, kernel_size: [1, 1], padding: 'valid' }, [zeros('kernel', [1, 1, inC, outC]), zeros('bias', [outC])]);
  const ir: ModelIR = {
    name: 'mystery', inputs: ['in'], outputs: ['head'],
    layers: [
      inputLayer([4, 4, 2]),
      conv('a', 'in', 2, 3),
      layer('m', 'MysteryLayer', ['a']),
      conv('b', 'm', 3, 5),
      conv('c', 'in', 2, 4),
      layer('cat', 'Concatenate', ['b', 'c'], { axis: -1 }),
      layer('gap', 'GlobalAveragePooling2D', ['cat']),
      layer('head', 'Dense', ['gap'], { units: 2 }, [zeros('kernel', [9, 2]), zeros('bias', [2])]),
    ],
  };
  const shapes = new Map<string, number[]>([['in', [4, 4, 2]], ['a', [4, 4, 3]], ['m', [4, 4, 3]], ['b', [4, 4, 5]], ['c', [4, 4, 4]], ['cat', [4, 4, 9]], ['gap', [9]], ['head', [2]]]);
  return { ir, shapes };
}

test('an unknown layer class blocks only the groups it touches and never throws', () => {
  const { ir, shapes } = mysteryIR();
  const a = analyzeChannels(ir, shapes);
  assert.deepEqual(a.unsupported.map((u) => `${u.layer} (${u.className})`), ['m (MysteryLayer)']);
  assert.equal(group(a, 'a').blocked.size, 3);
  assert.match(group(a, 'a').blocked.values().next().value!, /layer "m" \(MysteryLayer\)/);
  assert.equal(group(a, 'b').blocked.size, 0); // b's input comes out of the unknown layer, but b's outputs are fine
  assert.equal(group(a, 'c').blocked.size, 0);
  // b reads the unknown layer's output: those channels belong to no group, so no plan can remove them.
  assert.ok([...binding(a, 'b', 'kernel', 2).classes].every((k) => a.classGroup[k] === -1));
});

test('an unknown layer whose shape is not known still does not throw; its consumers are treated as unknown too', () => {
  const { ir, shapes } = mysteryIR();
  shapes.delete('m');
  const a = analyzeChannels(ir, shapes);
  assert.deepEqual(a.unsupported.map((u) => u.layer), ['m', 'b']);
  assert.equal(group(a, 'c').blocked.size, 0);
});

test('a weight whose shape disagrees with the channels makes the layer unknown instead of slicing it wrongly', async () => {
  const ir = await irFromTfjsModel(sequentialCnn());
  const fc1 = ir.layers.find((l) => l.name === 'fc1')!;
  fc1.weights[0] = { name: 'kernel', shape: [35, 8], values: new Float32Array(35 * 8) };
  const shapes = new Map([[ir.inputs[0]!, [8, 8, 1]], ['conv', [6, 6, 4]], ['pool', [3, 3, 4]], ['flatten', [36]], ['fc1', [8]], ['fc2', [3]]]);
  const a = analyzeChannels(ir, shapes);
  assert.deepEqual(a.unsupported.map((u) => u.layer), ['fc1']);
  assert.equal(group(a, 'conv').blocked.size, 4);
});
