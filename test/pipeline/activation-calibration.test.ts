/**
 * Activation calibration, the one module quantised exports get their ranges from: calibrationView exposes every
 * tensor a writer quantises as a layer output — `<layer>/preactivation` before an activation TFLite cannot fuse,
 * `<layer>/depthwise` inside a SeparableConv2D — while computing exactly what the model computes;
 * calibrateActivations records each one's range, stamped with the model it describes (the stage cache keeping it:
 * cache-storage.test.ts).
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import {
  CALIBRATION_METHODS, calibrateActivations, calibrationDigest, calibrationOptions, calibrationSamples, calibrationView, currentCalibration,
} from '../../pipeline/activation-calibration.ts';
import { createRng } from '../../pipeline/random.ts';
import { openActivationReader } from '../../pipeline/calibrate.ts';
import { initEngine } from '../../pipeline/engine.ts';
import { irFromTfjsModel } from '../../pipeline/io/tfjs-model.ts';
import { cloneIR, type ModelIR } from '../../pipeline/ir.ts';
import { depthwiseNet, sequentialCnn } from '../fixtures/models.ts';
import { inputSet } from './formats/tflite/helpers.ts';
import { activationStack, mergeStack } from './formats/tflite/models.ts';

before(() => initEngine('cpu'));

async function outputsOf(ir: ModelIR, names: string[], x: ReturnType<typeof inputSet>): Promise<Record<string, Float32Array>> {
  const reader = await openActivationReader(ir, names, { engine: 'tfjs' });
  try {
    return await reader.read(x.x, x.count, x.sampleShape);
  } finally {
    reader.dispose();
  }
}

test('the view splits activated layers and separable convs into the tensors int8 quantises, computing the same values', async () => {
  for (const model of [depthwiseNet(), activationStack(), mergeStack()]) {
    const ir = await irFromTfjsModel(model);
    const view = calibrationView(ir);
    const names = new Set(view.layers.map((l) => l.name));
    for (const layer of ir.layers) assert.ok(names.has(layer.name), `${model.name}: ${layer.name} kept`);
    const x = inputSet(model, 8, 3);
    const theirs = await outputsOf(ir, ir.layers.map((l) => l.name), x);
    const ours = await outputsOf(view, ir.layers.map((l) => l.name), x);
    for (const [name, values] of Object.entries(theirs)) {
      const diff = values.reduce((m, v, i) => Math.max(m, Math.abs(v - ours[name]![i]!)), 0);
      assert.ok(diff <= 1e-5, `${model.name}: ${name} differs by ${diff}`);
    }
  }
  const depthwise = calibrationView(await irFromTfjsModel(depthwiseNet()));
  const sep = depthwise.layers.find((l) => l.name === 'sep/depthwise')!;
  assert.equal(sep.className, 'SeparableConv2D', 'the depthwise half keeps its dilation (tfjs DepthwiseConv2D would drop it)');
  assert.deepEqual(depthwise.layers.find((l) => l.name === 'sep')!.inputs, ['sep/depthwise']);
  const stack = calibrationView(await irFromTfjsModel(activationStack()));
  assert.deepEqual(stack.layers.filter((l) => l.name.startsWith('fc_sigmoid')).map((l) => [l.name, l.className]),
    [['fc_sigmoid/preactivation', 'Dense'], ['fc_sigmoid', 'Activation']]);
  assert.ok(!stack.layers.some((l) => l.name === 'fc_linear/preactivation'), 'nothing to split for a linear layer');
  // A chain of binary ops holds running results: each observed on its own (x0 + x1 may span more than the sum).
  const merges = calibrationView(await irFromTfjsModel(mergeStack()));
  const side = (name: string) => merges.layers.find((l) => l.name === name);
  assert.deepEqual([side('add3/partial1')?.className, side('add3/partial1')?.inputs], ['Add', ['avg', 'a']]);
  assert.deepEqual([side('avg/partial1')?.className, side('avg/partial1')?.inputs], ['Add', ['max', 'a']]);
  assert.deepEqual([side('avg/sum')?.className, side('avg/sum')?.inputs], ['Add', ['max', 'a', 'b']]);
  assert.equal(side('mul/partial1'), undefined, 'two inputs: one op, no running result');
  assert.deepEqual(merges.outputs, ['probs'], 'observed, never read');
});

test('min/max ranges cover every tensor of the view, input included, stamped with method, samples and model', async () => {
  const model = activationStack();
  const ir = await irFromTfjsModel(model);
  const samples = inputSet(model, 64, 5);
  const calibration = await calibrateActivations(ir, samples, { batchSize: 16 });
  assert.deepEqual([calibration.method, calibration.samples, calibration.modelDigest], ['minmax', 64, calibrationDigest(ir)]);
  const { ranges } = calibration;
  assert.deepEqual(Object.keys(ranges).sort(), calibrationView(ir).layers.map((l) => l.name).sort());
  const input = ranges[ir.inputs[0]!]!;
  assert.deepEqual([input.min, input.max], [Math.min(...samples.x), Math.max(...samples.x)]);
  const sigmoid = ranges['fc_sigmoid']!;
  assert.ok(sigmoid.min >= 0 && sigmoid.max <= 1, JSON.stringify(sigmoid));
  assert.ok(ranges['fc_sigmoid/preactivation']!.min < 0, 'the linear part before the sigmoid has its own, wider range');
  const whole = await calibrateActivations(ir, samples, { batchSize: 64 });
  assert.deepEqual(whole.ranges, ranges, 'batching does not change the ranges');
});

test('percentile ranges clip the rare extremes a min/max range stretches over; percentile and entropy stay within the observed range, deterministic', async () => {
  const model = activationStack();
  const ir = await irFromTfjsModel(model);
  const samples = inputSet(model, 64, 5);
  const input = ir.inputs[0]!;
  samples.x[3] = 1000; // one outlier pixel
  const minmax = await calibrateActivations(ir, samples, { batchSize: 64 });
  assert.equal(minmax.ranges[input]!.max, 1000);
  for (const how of [{ method: 'percentile', percentile: 99 }, { method: 'entropy' }] as const) {
    const clipped = await calibrateActivations(ir, samples, { ...how, batchSize: 32 });
    assert.equal(clipped.method, how.method);
    if (how.method === 'percentile') assert.ok(clipped.ranges[input]!.max < 10, JSON.stringify(clipped.ranges[input]));
    for (const [name, r] of Object.entries(clipped.ranges)) {
      const widened = { min: Math.min(0, minmax.ranges[name]!.min), max: Math.max(0, minmax.ranges[name]!.max) };
      assert.ok(r.min >= widened.min && r.max <= widened.max && r.min <= r.max, `${how.method} ${name}`);
    }
    assert.deepEqual((await calibrateActivations(ir, samples, { ...how, batchSize: 32 })).ranges, clipped.ranges, `${how.method}: deterministic`);
  }
});

test('entropy: a long thin tail is trimmed; compact, spiky and ReLU outputs kept whole; batches in any sizes agree', () => {
  const rng = createRng(7);
  const observe = (chunks: Float32Array[]) => {
    const o = CALIBRATION_METHODS.entropy(calibrationOptions.parse({ method: 'entropy' }));
    for (const c of chunks) o.observe(c);
    return o.range();
  };
  const draw = (f: () => number) => Float32Array.from({ length: 20000 }, f);
  const lognormal = draw(() => Math.exp(1.5 * rng.normal()));
  const whole = observe([lognormal]);
  const max = Math.max(...lognormal);
  assert.ok(whole.min === 0 && whole.max < max && whole.max > 0.5 * max, `tail trimmed: ${JSON.stringify(whole)} of max ${max}`);
  // Re-binning when a later batch widens the range: the first batch holds only the bulk.
  const split = observe([lognormal.filter((v) => v < 10), lognormal.filter((v) => v >= 10)]);
  assert.ok(Math.abs(split.max - whole.max) < 0.1 * whole.max, `${JSON.stringify(split)} vs ${JSON.stringify(whole)}`);
  const uniform = observe([draw(() => rng.next())]);
  assert.ok(uniform.min === 0 && uniform.max > 0.9, `compact: ${JSON.stringify(uniform)}`);
  const normal = draw(() => rng.normal());
  const r = observe([normal]);
  assert.ok(r.min < 0.85 * Math.min(...normal) && r.max > 0.85 * Math.max(...normal), `normal: ${JSON.stringify(r)}`);
  // Half the values of a ReLU are exactly 0, which int8 holds exactly: they do not drag the range down.
  const relu = observe([normal.map((v) => Math.max(0, v))]);
  assert.ok(relu.min === 0 && relu.max > 0.85 * Math.max(...normal), `relu: ${JSON.stringify(relu)}`);
  // A constant background through a conv (ReLU(bias) on 80% of the values): a spike KL alone would clip the
  // strokes' values to a fraction of their range for.
  const spiky = draw(() => (rng.next() < 0.8 ? 0.013 : Math.abs(rng.normal()) * 0.2));
  assert.ok(observe([spiky]).max > 0.85 * Math.max(...spiky), JSON.stringify(observe([spiky])));
});

test('a calibration counts only for the model it was measured on', async () => {
  const ir = await irFromTfjsModel(sequentialCnn());
  const calibrated: ModelIR = { ...ir, calibration: await calibrateActivations(ir, inputSet(sequentialCnn(), 8, 2)) };
  assert.equal(currentCalibration(calibrated), calibrated.calibration);
  assert.equal(currentCalibration(cloneIR(calibrated)), calibrated.calibration, 'a copy is the same model');
  const retrained = cloneIR(calibrated);
  retrained.layers.find((l) => l.weights.length > 0)!.weights[0]!.values[0]! += 0.5;
  assert.equal(currentCalibration(retrained), undefined, 'one changed weight value makes it stale');
  const cut = cloneIR(calibrated);
  cut.outputs = [cut.layers[cut.layers.length - 2]!.name];
  assert.equal(currentCalibration(cut), undefined, 'so does a changed graph');
  assert.equal(currentCalibration(ir), undefined);
});

test('calibration samples: a seeded draw from the training split, capped at its size', () => {
  const train = { x: Float32Array.from({ length: 50 }, (_, i) => i), y: new Int32Array(50), count: 50, sampleShape: [1], numClasses: 2 };
  const a = calibrationSamples(train, 10, 1);
  assert.equal(a.count, 10);
  assert.deepEqual(calibrationSamples(train, 10, 1).x, a.x);
  assert.notDeepEqual(calibrationSamples(train, 10, 2).x, a.x);
  assert.equal(new Set(a.x).size, 10, 'without repeats');
  assert.equal(calibrationSamples(train, 500, 1).count, 50);
  assert.deepEqual(calibrationOptions.parse({}), { method: 'minmax', samples: 1024, percentile: 99.99 });
  assert.throws(() => calibrationOptions.parse({ method: 'median' }));
});
