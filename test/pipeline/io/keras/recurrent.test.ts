/**
 * Keras recurrent layers read as tfjs's: SimpleRNN, LSTM, GRU (reset_after=False) and Bidirectional, from a Keras 3
 * `.keras` (variables under `layers/<lstm>/cell/vars`, a Bidirectional's under `forward_layer/cell` and
 * `backward_layer/cell`) and a tf.keras 2 `.h5` (`lstm/lstm_cell/kernel:0`, `bidirectional/forward_lstm/…`). The
 * model loaded by slimnet runs on tfjs and is compared with an independent forward pass of the Keras definitions
 * (fixtures/keras/reference.ts). Keras's default GRU (reset_after=True) is refused in one line.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, test } from 'node:test';
import { initEngine } from '../../../../pipeline/engine.ts';
import { isSlimnetError } from '../../../../pipeline/errors.ts';
import { createPredictor } from '../../../../pipeline/evaluate.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { referenceForward } from '../../../fixtures/keras/reference.ts';
import { keras3Config, makeWeights, shapesOf, type ModelSpec } from '../../../fixtures/keras/spec.ts';
import { legacyH5, writeKerasArchive } from '../../../fixtures/keras/write.ts';

/** LSTM (sequences) → GRU backwards (sequences) → SimpleRNN (relu, last step) → Dense. */
const STACKED: ModelSpec = {
  name: 'sequential', functional: false, layers: [
    { name: 'input_layer', kind: 'input', shape: [6, 3] },
    { name: 'lstm', kind: 'lstm', units: 4, returnSequences: true },
    { name: 'gru', kind: 'gru', units: 3, returnSequences: true, goBackwards: true },
    { name: 'simple_rnn', kind: 'simple_rnn', units: 3, activation: 'relu' },
    { name: 'dense', kind: 'dense', units: 3, activation: 'softmax' },
  ],
};

/** Bidirectional LSTM (concat, sequences) → Bidirectional GRU (ave, last step) → Dense. */
const BIDIRECTIONAL: ModelSpec = {
  name: 'sequential', functional: false, layers: [
    { name: 'input_layer', kind: 'input', shape: [5, 2] },
    { name: 'bidirectional', kind: 'bidirectional', cell: 'lstm', units: 3, mergeMode: 'concat', returnSequences: true },
    { name: 'bidirectional_1', kind: 'bidirectional', cell: 'gru', units: 2, mergeMode: 'ave' },
    { name: 'dense', kind: 'dense', units: 3, activation: 'softmax' },
  ],
};

/** tf.keras 2 with its old hard_sigmoid gates (0.2·x + 0.5, which tfjs computes) and a Bidirectional SimpleRNN (mul). */
const KERAS2: ModelSpec = {
  name: 'sequential', functional: false, layers: [
    { name: 'input_layer', kind: 'input', shape: [4, 3] },
    { name: 'lstm', kind: 'lstm', units: 3, returnSequences: true, recurrentActivation: 'hard_sigmoid' },
    { name: 'bidirectional', kind: 'bidirectional', cell: 'simple_rnn', units: 2, mergeMode: 'mul', goBackwards: true },
    { name: 'dense', kind: 'dense', units: 2, activation: 'softmax' },
  ],
};

let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-keras-rnn-'));
  await initEngine('wasm');
});

async function check(spec: ModelSpec, file: string, classes: string[]): Promise<void> {
  const { ir } = await loadModel(file);
  assert.deepEqual(ir.layers.map((l) => l.className), classes);
  const shape = (spec.layers[0] as { shape: number[] }).shape;
  const per = shape.reduce((a, b) => a * b, 1);
  const out = [...shapesOf(spec).values()].at(-1)![0]!;
  const rng = createRng(8);
  const x = Float32Array.from({ length: 3 * per }, () => rng.next() * 4 - 2);
  const predictor = await createPredictor(ir, 'tfjs');
  const got = await predictor.predict(x, 3, shape);
  predictor.dispose();
  const weights = makeWeights(spec, 6);
  for (let s = 0; s < 3; s++) {
    const want = referenceForward(spec, weights, x.subarray(s * per, (s + 1) * per));
    want.forEach((v, c) => assert.ok(Math.abs(v - got[s * out + c]!) <= 1e-5, `${path.basename(file)} sample ${s} class ${c}: ${got[s * out + c]} vs ${v}`));
  }
}

test('Keras 3 .keras: LSTM, GRU (backwards) and SimpleRNN stacked, their variables in each layer\'s cell', async () => {
  const file = path.join(dir, 'stacked.keras');
  await writeKerasArchive(file, STACKED, makeWeights(STACKED, 6));
  await check(STACKED, file, ['InputLayer', 'LSTM', 'GRU', 'SimpleRNN', 'Dense']);
});

test('Keras 3 .keras: Bidirectional LSTM and GRU (forward_layer/backward_layer copies), with name attributes on the vars groups', async () => {
  const file = path.join(dir, 'bidirectional.keras');
  await writeKerasArchive(file, BIDIRECTIONAL, makeWeights(BIDIRECTIONAL, 6), { nameAttr: true });
  await check(BIDIRECTIONAL, file, ['InputLayer', 'Bidirectional', 'Bidirectional', 'Dense']);
});

test('tf.keras 2 .h5: LSTM with hard_sigmoid gates, a backwards Bidirectional SimpleRNN (mul)', async () => {
  const file = path.join(dir, 'keras2.h5');
  writeFileSync(file, await legacyH5(KERAS2, makeWeights(KERAS2, 6), 'keras2'));
  await check(KERAS2, file, ['InputLayer', 'LSTM', 'Bidirectional', 'Dense']);
});

test("refused in one line naming the layer: Keras's default GRU (reset_after=True), a stateful LSTM, Keras 3's hard_sigmoid gates", async () => {
  const variants: Array<[string, Record<string, unknown>, RegExp]> = [
    ['gru', { reset_after: true }, /layer "gru" \(GRU\).*reset_after=True/],
    ['lstm', { stateful: true }, /layer "lstm" \(LSTM\).*stateful/],
    ['lstm', { recurrent_activation: 'hard_sigmoid' }, /layer "lstm" \(LSTM\).*hard_sigmoid/],
  ];
  for (const [name, change, expected] of variants) {
    const config = keras3Config(STACKED) as { config: { layers: Array<{ config: Record<string, unknown> }> } };
    Object.assign(config.config.layers.find((l) => l.config.name === name)!.config, change);
    const file = path.join(dir, `refused-${name}-${Object.keys(change)[0]}.keras`);
    await writeKerasArchive(file, STACKED, makeWeights(STACKED, 6), { config });
    await assert.rejects(loadModel(file), (e: unknown) => isSlimnetError(e) && expected.test(e.oneLine()) && !/\n/.test(e.oneLine()), JSON.stringify(change));
  }
});
