/**
 * The recurrent family against tfjs: random SimpleRNN, LSTM and GRU layers (return_sequences either way,
 * go_backwards, with and without bias, every gate/candidate activation — fused ONNX ops where ONNX has the
 * activation, the unrolled form where it does not), stacked, and Bidirectional in every merge mode; tfjs's reading
 * of absent and null activations; the strict parse.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { isSlimnetError } from '../../../pipeline/errors.ts';
import { buildTfjsModel } from '../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../pipeline/ir.ts';
import { ACTIVATION_NAMES } from '../../../pipeline/layers/activations/names.ts';
import { inferShapes } from '../../../pipeline/graph/shapes.ts';
import { isClass, layerClass } from '../../../pipeline/layers/registry.ts';
import { createRng } from '../../../pipeline/random.ts';
import { exportOnnx } from '../../../pipeline/onnx/export.ts';
import { inspectModel } from '../onnx/helpers.ts';
import { inputLayer, layer, model } from '../../fixtures/ir.ts';
import { caseTests, checkCase, expectConfigErrors, onnxDiff, picker, tempDir, UNDER, type LayerCase } from './harness.ts';
import { findValidator, INSTALL_COMMAND, ON_CI } from '../../helpers/validators.ts';

type Identifier = Parameters<typeof tf.layers.lstm>[0]['activation'];
const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as Identifier;
const GATES = { SimpleRNN: 1, LSTM: 4, GRU: 3 } as const;
type Cell = keyof typeof GATES;
const MAKE = { SimpleRNN: tf.layers.simpleRNN, LSTM: tf.layers.lstm, GRU: tf.layers.gru } as const;
/** Activations the fused ONNX ops have, and every other tfjs activation (softmax aside: it is not elementwise). */
const FUSED = ['tanh', 'sigmoid', 'hard_sigmoid', 'relu', 'elu', 'softsign', 'softplus'] as const;
const OTHERS = ACTIVATION_NAMES.filter((a) => !(FUSED as readonly string[]).includes(a));

/** Per direction, per step: the input matmul (F × g·u) and the recurrent one (u × g·u). */
const rnnMacs = (cell: Cell, units: number, directions = 1) => (inS: number[]) => directions * inS[0]! * (inS[1]! + units) * GATES[cell] * units;

function cellArgs(cell: Cell, p: ReturnType<typeof picker>, units: number, name?: string) {
  const act = p.rng.next() < 0.7 ? p.pick(FUSED) : p.pick(OTHERS);
  const gate = p.rng.next() < 0.8 ? p.pick(['sigmoid', 'hard_sigmoid'] as const) : p.pick(FUSED);
  return {
    units, activation: camel(act), useBias: p.bool(), returnSequences: p.bool(), goBackwards: p.bool(),
    ...(cell === 'SimpleRNN' ? {} : { recurrentActivation: camel(gate) }), ...(name ? { name } : {}),
  };
}

function rnnCases(count: number): LayerCase[] {
  const p = picker(81);
  return Array.from({ length: count }, (_, i) => {
    const cell = (['SimpleRNN', 'LSTM', 'GRU'] as const)[i % 3]!;
    const steps = p.int(1, 6);
    const features = p.int(1, 5);
    const units = p.int(1, 6);
    const args = cellArgs(cell, p, units, UNDER);
    return {
      name: `${cell.toLowerCase()}_${i}`,
      inputShape: [steps, features],
      layers: () => [MAKE[cell](args as never)],
      macs: rnnMacs(cell, units),
    };
  });
}

function bidirectionalCases(): LayerCase[] {
  const p = picker(83);
  return (['concat', 'sum', 'mul', 'ave'] as const).flatMap((mergeMode, m) => (['SimpleRNN', 'LSTM', 'GRU'] as const).map((cell): LayerCase => {
    const units = p.int(1, 5);
    const steps = p.int(2, 5);
    const args = cellArgs(cell, p, units);
    return {
      name: `bidirectional_${mergeMode}_${cell.toLowerCase()}_${m}`,
      inputShape: [steps, p.int(1, 4)],
      layers: () => [tf.layers.bidirectional({ layer: MAKE[cell](args as never) as never, mergeMode, name: UNDER })],
      macs: rnnMacs(cell, units, 2),
    };
  }));
}

const stacked: LayerCase[] = [
  {
    name: 'stacked_lstm_gru_dense',
    inputShape: [7, 3],
    layers: () => [
      tf.layers.lstm({ units: 5, returnSequences: true, recurrentActivation: 'sigmoid' }),
      tf.layers.gru({ units: 4, returnSequences: true, goBackwards: true, name: UNDER }),
      tf.layers.dense({ units: 3 }),
      tf.layers.simpleRNN({ units: 2 }),
    ],
    macs: rnnMacs('GRU', 4),
  },
  {
    name: 'reshape_rows_lstm_flatten',
    inputShape: [6, 4, 1],
    layers: () => [tf.layers.reshape({ targetShape: [6, 4] }), tf.layers.lstm({ units: 3, returnSequences: true, name: UNDER }), tf.layers.flatten(), tf.layers.dense({ units: 2 })],
    macs: rnnMacs('LSTM', 3),
  },
];

caseTests('recurrent', [...rnnCases(18), ...bidirectionalCases(), ...stacked]);

test('fused ONNX ops where ONNX has the activations, the unrolled form otherwise', () => {
  const ops = (cell: string, keras: Record<string, unknown>) => {
    const ir = model(inputLayer([4, 3]), layer('r', cell, ['in'], { units: 2, ...keras }, []));
    const shapes = cell === 'LSTM' ? 8 : cell === 'GRU' ? 6 : 2;
    ir.layers[1]!.weights = [
      { name: 'kernel', shape: [3, shapes], values: new Float32Array(3 * shapes).fill(0.1) },
      { name: 'recurrent_kernel', shape: [2, shapes], values: new Float32Array(2 * shapes).fill(0.1) },
      { name: 'bias', shape: [shapes], values: new Float32Array(shapes) },
    ];
    return new Set(inspectModel(exportOnnx(ir)).graph.node.map((n) => n.opType));
  };
  assert.ok(ops('LSTM', {}).has('LSTM'));
  assert.ok(ops('GRU', { recurrent_activation: 'sigmoid' }).has('GRU'));
  assert.ok(ops('SimpleRNN', { activation: 'relu' }).has('RNN'));
  const unrolled = ops('LSTM', { activation: 'relu6' });
  assert.ok(!unrolled.has('LSTM') && unrolled.has('MatMul') && unrolled.has('Split'));
});

/** tfjs built from `ir` (as model.json would load) against the ONNX export of the same IR; weights seeded. */
async function irParity(ir: ModelIR): Promise<number> {
  const shapes = inferShapes(ir);
  const rng = createRng(5);
  for (const l of ir.layers) {
    l.weights = layerClass(l.className)!.weights(l, l.inputs.map((n) => shapes.get(n)!)).map((w) => {
      const values = Float32Array.from({ length: w.shape.reduce((a, b) => a * b, 1) }, () => rng.next() - 0.5);
      return { ...w, values };
    });
  }
  const m = await buildTfjsModel(ir);
  const diff = await onnxDiff(m, exportOnnx(ir), 3);
  m.dispose();
  return diff;
}

test("absent and null activations read as tfjs reads them (LSTM/GRU: recurrent hard_sigmoid when absent, linear when null; SimpleRNN: null is tanh)", async () => {
  const cases: Array<[string, Record<string, unknown>, string, string | undefined]> = [
    ['LSTM', {}, 'tanh', 'hard_sigmoid'],
    ['LSTM', { activation: null, recurrent_activation: null }, 'linear', 'linear'],
    ['GRU', { recurrent_activation: 'hardSigmoid' }, 'tanh', 'hard_sigmoid'],
    ['SimpleRNN', { activation: null }, 'tanh', undefined],
  ];
  for (const [cell, keras, act, gate] of cases) {
    const ir = model(inputLayer([5, 3]), layer('r', cell, ['in'], { units: 3, return_sequences: true, ...keras }), layer('d', 'Dense', ['r'], { units: 2 }));
    const r = ir.layers[1]!;
    assert.equal((r.config as unknown as { activation: string }).activation, act, `${cell} ${JSON.stringify(keras)}`);
    assert.equal((r.config as unknown as { recurrentActivation?: string }).recurrentActivation, gate, `${cell} ${JSON.stringify(keras)}`);
    // Weights are filled by tfjs (the IR has none yet): build, randomise, read back, compare.
    const diff = await irParity(ir);
    assert.ok(diff <= 1e-4, `${cell} ${JSON.stringify(keras)}: ONNX vs tfjs ${diff}`);
  }
});

test('the config parse is strict and refuses what tfjs cannot run as Keras means it', () => {
  const lstmInner = (config: Record<string, unknown>) => ({ layer: { class_name: 'LSTM', config: { name: 'l', units: 2, ...config } } });
  expectConfigErrors([
    ['LSTM', {}, 'MODEL_INVALID', /config\.units/],
    ['LSTM', { units: 0 }, 'MODEL_INVALID', /config\.units/],
    ['GRU', { units: 2, recurrent_activation: 'hard_swish' }, 'MODEL_INVALID', /config\.recurrent_activation/],
    ['SimpleRNN', { units: 2, return_sequences: 'yes' }, 'MODEL_INVALID', /config\.return_sequences/],
    ['LSTM', { units: 2, dropout: 'x' }, 'MODEL_INVALID', /config\.dropout/],
    ['LSTM', { units: 2, return_state: true }, 'LAYER_UNSUPPORTED', /config\.return_state/],
    ['GRU', { units: 2, stateful: true }, 'LAYER_UNSUPPORTED', /config\.stateful/],
    ['GRU', { units: 2, reset_after: true }, 'LAYER_UNSUPPORTED', /config\.reset_after/],
    ['SimpleRNN', { units: 2, time_major: true }, 'LAYER_UNSUPPORTED', /config\.time_major/],
    ['Bidirectional', { merge_mode: null, ...lstmInner({}) }, 'LAYER_UNSUPPORTED', /config\.merge_mode/],
    ['Bidirectional', { merge_mode: 'max', ...lstmInner({}) }, 'MODEL_INVALID', /config\.merge_mode/],
    ['Bidirectional', { layer: { class_name: 'Dense', config: { units: 2 } } }, 'LAYER_UNSUPPORTED', /config\.layer/],
    ['Bidirectional', { layer: 'LSTM' }, 'MODEL_INVALID', /config\.layer/],
    ['Bidirectional', lstmInner({ units: -2 }), 'MODEL_INVALID', /config\.layer\.config\.units/],
    ['Bidirectional', lstmInner({ stateful: true }), 'LAYER_UNSUPPORTED', /config\.layer\.config\.stateful/],
  ]);
  const ok = layer('b', 'Bidirectional', ['in'], lstmInner({ go_backwards: true, return_sequences: true }));
  assert.ok(isClass(ok, 'Bidirectional'));
  assert.equal(ok.config.mergeMode, 'concat');
  assert.equal(ok.config.layer.className, 'LSTM');
  assert.equal(ok.config.layer.config.goBackwards, true);
  assert.throws(() => layer('b', 'Bidirectional', ['in'], lstmInner({ units: 'two' })), (e: unknown) => isSlimnetError(e) && e.where === 'layer "b" (Bidirectional)');
});

test('TFLite (float32): the unrolled recurrence run in the TFLite runtime matches tfjs for every cell, both directions and output kinds', async (t) => {
  const runtime = findValidator('tflite-runtime');
  if (!runtime.available) {
    assert.ok(!ON_CI, `CI=true: needs tflite-runtime: ${runtime.reason}`);
    t.skip(`no TFLite runtime (${INSTALL_COMMAND['tflite-runtime']})`);
    return;
  }
  const cases: LayerCase[] = [
    { name: 'tflite_gru_default_gates_backwards_sequences', inputShape: [5, 3], layers: () => [tf.layers.gru({ units: 4, returnSequences: true, goBackwards: true, name: UNDER })], macs: rnnMacs('GRU', 4) },
    { name: 'tflite_gru_sigmoid_last', inputShape: [4, 2], layers: () => [tf.layers.gru({ units: 3, recurrentActivation: 'sigmoid', useBias: false, name: UNDER }), tf.layers.dense({ units: 2 })], macs: rnnMacs('GRU', 3) },
    { name: 'tflite_lstm_relu_hard_sigmoid', inputShape: [6, 3], layers: () => [tf.layers.lstm({ units: 3, activation: 'relu', name: UNDER })], macs: rnnMacs('LSTM', 3) },
    { name: 'tflite_simple_rnn_linear_sequences', inputShape: [3, 4], layers: () => [tf.layers.simpleRNN({ units: 2, activation: 'linear', returnSequences: true, name: UNDER })], macs: rnnMacs('SimpleRNN', 2) },
    { name: 'tflite_bidirectional_gru_sum_sequences', inputShape: [4, 3], layers: () => [tf.layers.bidirectional({ layer: tf.layers.gru({ units: 2, recurrentActivation: 'sigmoid', returnSequences: true }) as never, mergeMode: 'sum', name: UNDER })], macs: rnnMacs('GRU', 2, 2) },
  ];
  const dir = tempDir();
  for (const c of cases) {
    const r = await checkCase(c, dir);
    assert.ok(r.tfliteMaxAbsDiff !== undefined && r.tfliteMaxAbsDiff <= 1e-5, `${c.name}: TFLite max |Δ| ${r.tfliteMaxAbsDiff}`);
  }
});
