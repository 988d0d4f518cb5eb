/**
 * Keras files in every layout the issue lists, read by slimnet and checked against an independent forward pass:
 * the reference reads the weights straight from the HDF5 file at the paths the writer used (plain h5wasm, not
 * slimnet's resolution) and runs the model as Keras defines it with plain loops. Agreement to 1e-5.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { unzipSync } from 'fflate';
import { initEngine } from '../../../../pipeline/engine.ts';
import { createPredictor, type EvaluationEngine } from '../../../../pipeline/evaluate.ts';
import { loadH5wasm } from '../../../../pipeline/io/keras/hdf5.ts';
import { loadModel } from '../../../../pipeline/io/load-model.ts';
import { createRng } from '../../../../pipeline/random.ts';
import { referenceForward } from '../../../fixtures/keras/reference.ts';
import { CLASS, CNN, makeWeights, MLP, RESIDUAL, type ModelSpec, type Variable } from '../../../fixtures/keras/spec.ts';
import { keras3Groups, legacyH5, writeKerasArchive, writeKerasFolder, type Keras3WeightsOptions, type LegacyNaming } from '../../../fixtures/keras/write.ts';

let dir: string;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-keras-'));
  await initEngine('wasm');
});

/** Reads datasets with h5wasm directly (no slimnet code): the reference's view of the file. */
async function readDatasets(h5bytes: Uint8Array, paths: Map<string, string[]>): Promise<Map<string, Variable[]>> {
  const { h5, module } = await loadH5wasm();
  module.FS.writeFile('/reference.h5', h5bytes);
  const file = new h5.File('/reference.h5', 'r');
  const out = new Map<string, Variable[]>();
  try {
    for (const [layer, list] of paths) {
      out.set(layer, list.map((p) => {
        const d = file.get(p) as InstanceType<typeof h5.Dataset>;
        assert.ok(d, `fixture has no dataset ${p}`);
        return { shape: d.shape!.map(Number), values: d.value as Float32Array };
      }));
    }
  } finally {
    file.close();
    module.FS.unlink('/reference.h5');
  }
  return out;
}

/** Dataset paths of a Keras 3 weights file as Keras's saving_lib names them (class-derived, counter per class). */
function keras3Paths(spec: ModelSpec, weights: Map<string, Variable[]>, opts: Keras3WeightsOptions): Map<string, string[]> {
  const paths = new Map<string, string[]>();
  for (const [layer, group] of keras3Groups(spec, weights, opts)) paths.set(layer, weights.get(layer)!.map((_, i) => `${group}/vars/${i}`));
  return paths;
}

function legacyPaths(spec: ModelSpec, weights: Map<string, Variable[]>, naming: LegacyNaming): Map<string, string[]> {
  const names: Record<string, string[]> = { Conv2D: ['kernel', 'bias'], BatchNormalization: ['gamma', 'beta', 'moving_mean', 'moving_variance'], Dense: ['kernel', 'bias'] };
  const paths = new Map<string, string[]>();
  for (const l of spec.layers) {
    const vars = weights.get(l.name);
    if (!vars) continue;
    paths.set(l.name, vars.map((_, i) => {
      const w = names[CLASS[l.kind]]![i]!;
      return naming === 'keras2' ? `model_weights/${l.name}/${l.name}/${w}:0` : naming === 'keras3.1' ? `model_weights/${l.name}/${w}` : `model_weights/${l.name}/${spec.name}/${l.name}/${w}`;
    }));
  }
  return paths;
}

function samples(spec: ModelSpec, count: number): { x: Float32Array; shape: number[] } {
  const shape = (spec.layers[0] as { shape: number[] }).shape;
  const rng = createRng(11);
  const per = shape.reduce((a, b) => a * b, 1);
  return { x: Float32Array.from({ length: count * per }, () => rng.next()), shape };
}

/** slimnet's predictions (through `engine`, as the baseline measures) against the reference, to 1e-5. */
async function assertMatchesReference(modelPath: string, spec: ModelSpec, fileWeights: Map<string, Variable[]>, engine: EvaluationEngine = 'auto'): Promise<void> {
  const { ir } = await loadModel(modelPath);
  const { x, shape } = samples(spec, 6);
  const predictor = await createPredictor(ir, engine);
  const got = await predictor.predict(x, 6, shape);
  predictor.dispose();
  const per = x.length / 6;
  const classes = got.length / 6;
  let maxDiff = 0;
  for (let i = 0; i < 6; i++) {
    const want = referenceForward(spec, fileWeights, x.subarray(i * per, (i + 1) * per));
    assert.equal(want.length, classes);
    for (let c = 0; c < classes; c++) maxDiff = Math.max(maxDiff, Math.abs(want[c]! - got[i * classes + c]!));
  }
  assert.ok(maxDiff <= 1e-5, `max |slimnet − reference| = ${maxDiff}`);
}

describe('Keras 3 .keras archives and folders', () => {
  const cases: Array<[string, ModelSpec, Keras3WeightsOptions & { kerasVersion?: string }]> = [
    ['Sequential CNN (BatchNormalization, Dropout, same padding)', CNN, {}],
    ['MLP', MLP, {}],
    ['functional model with an Add, vars groups carrying layer names', RESIDUAL, { nameAttr: true }],
    ['tf.keras 2.13 saved on Windows: backslash group names, skipping counters', CNN, { container: '_layer_checkpoint_dependencies', backslash: true, skipCounters: true, kerasVersion: '2.13.1' }],
  ];
  for (const [label, spec, opts] of cases) {
    test(label, async () => {
      const weights = makeWeights(spec, 3);
      const file = path.join(dir, `${spec.name}-${label.length}.keras`);
      await writeKerasArchive(file, spec, weights, opts);
      const fileWeights = await readDatasets(unzipSync(readFileSync(file))['model.weights.h5']!, keras3Paths(spec, weights, opts));
      await assertMatchesReference(file, spec, fileWeights);
      const loaded = await loadModel(file);
      assert.equal(loaded.format, 'keras');
      assert.match(loaded.sha256, /^[0-9a-f]{64}$/);
    });
  }

  test('the unzipped folder form reads the same model', async () => {
    const weights = makeWeights(CNN, 4);
    const folder = path.join(dir, 'cnn-folder');
    await writeKerasFolder(folder, CNN, weights);
    const fileWeights = await readDatasets(readFileSync(path.join(folder, 'model.weights.h5')), keras3Paths(CNN, weights, {}));
    await assertMatchesReference(folder, CNN, fileWeights);
    assert.equal((await loadModel(folder)).format, 'keras-folder');
  });

  test('tfjs and onnxruntime agree with the reference on the functional model', async () => {
    const weights = makeWeights(RESIDUAL, 5);
    const file = path.join(dir, 'residual-engines.keras');
    await writeKerasArchive(file, RESIDUAL, weights);
    const fileWeights = await readDatasets(unzipSync(readFileSync(file))['model.weights.h5']!, keras3Paths(RESIDUAL, weights, {}));
    await assertMatchesReference(file, RESIDUAL, fileWeights, 'tfjs');
    await assertMatchesReference(file, RESIDUAL, fileWeights, 'ort');
  });

  test('mapping notes: a regularizer tfjs has is kept, class names tfjs spells differently are renamed', async () => {
    const file = path.join(dir, 'mlp-notes.keras');
    await writeKerasArchive(file, MLP, makeWeights(MLP));
    const { ir } = await loadModel(file);
    const dense = ir.layers.find((l) => l.name === 'dense')!;
    assert.deepEqual(dense.keras.kernel_regularizer, { class_name: 'L1L2', config: { l1: 0, l2: 0.0001 } });
    assert.deepEqual(dense.keras.kernel_initializer, { class_name: 'LeCunNormal', config: { seed: null } });
    assert.equal(dense.keras.dtype, 'float32');
    assert.deepEqual(ir.layers[0]!.keras.batch_input_shape, [null, 144]);
  });
});

describe('legacy .h5 (Keras 2 and Keras 3)', () => {
  const cases: Array<[string, ModelSpec, LegacyNaming, { inputLayer?: boolean }]> = [
    ['tf.keras 2 Sequential CNN: model_weights/<layer>/<layer>/kernel:0', CNN, 'keras2', {}],
    ['Keras 3.1 CNN: model_weights/<layer>/kernel', CNN, 'keras3.1', {}],
    ['Keras 3.5+ MLP: model_weights/<layer>/<model>/<layer>/kernel', MLP, 'keras3.5', {}],
    ['very old MLP without an InputLayer (batch_input_shape on the first layer)', MLP, 'keras2', { inputLayer: false }],
    ['tf.keras 2 functional model with an Add', RESIDUAL, 'keras2', {}],
    ['Keras 3 functional model with an Add', RESIDUAL, 'keras3.5', {}],
  ];
  for (const [label, spec, naming, opts] of cases) {
    test(label, async () => {
      const weights = makeWeights(spec, 7);
      const bytes = await legacyH5(spec, weights, naming, opts);
      const file = path.join(dir, `${spec.name}-${naming}-${label.length}.h5`);
      writeFileSync(file, bytes);
      await assertMatchesReference(file, spec, await readDatasets(bytes, legacyPaths(spec, weights, naming)));
      assert.equal((await loadModel(file)).format, 'keras-h5');
    });
  }

  test('a .keras file that is really HDF5 is read by its content', async () => {
    const weights = makeWeights(CNN, 8);
    const bytes = await legacyH5(CNN, weights, 'keras2');
    const file = path.join(dir, 'really-h5.keras');
    writeFileSync(file, bytes);
    await assertMatchesReference(file, CNN, await readDatasets(bytes, legacyPaths(CNN, weights, 'keras2')));
    assert.equal((await loadModel(file)).format, 'keras-h5');
  });
});
