/**
 * The sane models the fuzz test mutates, all for the tiny task's data (6×6×1 images, 3 classes). TF.js: the tiny
 * Dense model, a Sequential-style CNN (Conv2D → BatchNormalization → MaxPooling2D → Flatten → Dense) and a
 * functional net with a residual Add and a Concatenate. Keras: a functional residual net as a Keras 3 `.keras`
 * and a Sequential CNN as a tf.keras 2 legacy `.h5` (test/fixtures/keras/spec.ts). Weights are seeded random: the fuzz test checks loading,
 * not accuracy.
 */
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { LayerIR, ModelIR, WeightIR } from '../../pipeline/ir.ts';
import { writeModel } from '../../pipeline/io/write-model.ts';
import { createRng } from '../../pipeline/random.ts';
import { layer, model } from '../fixtures/ir.ts';
import { residualSpec, TINY_CNN } from '../fixtures/keras/spec.ts';
import { tinyModelIR, writeTinyTask } from '../fixtures/tiny-task.ts';
import { describeKeras, type KerasDescription } from './keras-mutations.ts';

function weights(shapes: Record<string, number[]>, seed: number): WeightIR[] {
  const rng = createRng(seed);
  return Object.entries(shapes).map(([name, shape]) => ({
    name,
    shape,
    values: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (name === 'moving_variance' ? 0.5 + rng.next() : rng.next() - 0.5)),
  }));
}

const image = () => layer('image', 'InputLayer', [], { batch_input_shape: [null, 6, 6, 1], dtype: 'float32', sparse: false });
const conv = (name: string, from: string, filters: number, seed: number, channelsIn = 1): LayerIR =>
  layer(name, 'Conv2D', [from], { filters, kernel_size: [3, 3], strides: [1, 1], padding: 'same', activation: 'relu', use_bias: true, dilation_rate: [1, 1], data_format: 'channels_last' },
    weights({ kernel: [3, 3, channelsIn, filters], bias: [filters] }, seed));
const head = (from: string, inputs: number, seed: number) =>
  layer('head', 'Dense', [from], { units: 3, activation: 'softmax', use_bias: true }, weights({ kernel: [inputs, 3], bias: [3] }, seed));

function cnn(): ModelIR {
  return {
    ...model(
      image(),
      conv('conv', 'image', 4, 1),
      layer('bn', 'BatchNormalization', ['conv'], { axis: -1, epsilon: 0.001, momentum: 0.99, center: true, scale: true },
        weights({ gamma: [4], beta: [4], moving_mean: [4], moving_variance: [4] }, 2)),
      layer('pool', 'MaxPooling2D', ['bn'], { pool_size: [2, 2], strides: [2, 2], padding: 'valid', data_format: 'channels_last' }),
      layer('flatten', 'Flatten', ['pool'], { data_format: 'channels_last' }),
      head('flatten', 36, 3),
    ),
    name: 'fuzz_cnn',
  };
}

function residual(): ModelIR {
  return {
    ...model(
      image(),
      conv('conv_a', 'image', 2, 4),
      conv('conv_b', 'conv_a', 2, 5, 2),
      layer('add', 'Add', ['conv_a', 'conv_b']),
      layer('cat', 'Concatenate', ['add', 'image'], { axis: -1 }),
      layer('gap', 'GlobalAveragePooling2D', ['cat'], { data_format: 'channels_last' }),
      head('gap', 3, 6),
    ),
    name: 'fuzz_residual',
  };
}

export function fuzzBaseModels(): Record<string, ModelIR> {
  return { dense: tinyModelIR(), cnn: cnn(), residual: residual() };
}

const KERAS_BASES = { 'keras-residual': () => describeKeras('keras', residualSpec([6, 6, 1], 3)), 'h5-cnn': () => describeKeras('h5', TINY_CNN) };
export type KerasBaseName = keyof typeof KERAS_BASES;

/** A fresh description of a Keras base (each case mutates its own). */
export const kerasBase = (name: KerasBaseName): KerasDescription => KERAS_BASES[name]();

/** Writes one folder per base under `root` (data/ plus model/ for TF.js, base.json naming a Keras base); returns them. */
export async function writeFuzzBases(root: string): Promise<string[]> {
  const bases: string[] = [];
  for (const [name, ir] of Object.entries(fuzzBaseModels())) {
    const dir = path.join(root, `base-${name}`);
    await writeTinyTask(dir);
    await writeModel(ir, path.join(dir, 'model'));
    bases.push(dir);
  }
  for (const name of Object.keys(KERAS_BASES)) {
    const dir = path.join(root, `base-${name}`);
    const { modelJson } = await writeTinyTask(dir);
    // Each case writes its own Keras file from the description; the task's TF.js model is not used.
    rmSync(path.dirname(modelJson), { recursive: true, force: true });
    writeFileSync(path.join(dir, 'base.json'), JSON.stringify({ name }));
    bases.push(dir);
  }
  return bases;
}
