import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { activeBackend, initEngine } from '../../pipeline/engine.ts';
import { isSlimnetError } from '../../pipeline/errors.ts';
import { registerWasmGradientKernels } from '../../pipeline/kernels/register-wasm-gradients.ts';

async function tfjsNodeLoads(): Promise<boolean> {
  const specifier = '@tensorflow/tfjs-node';
  try {
    await import(specifier);
    return true;
  } catch {
    return false;
  }
}

// First in the file: the wasm runtime has not been started yet in this process.
test('starting wasm leaves no process-wide exception handlers behind', async () => {
  const before = [process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')];
  assert.equal(await initEngine('wasm'), 'wasm');
  assert.deepEqual([process.listenerCount('uncaughtException'), process.listenerCount('unhandledRejection')], before);
});

test("'auto' picks tfjs-node exactly when it loads, else wasm", async () => {
  const expected = (await tfjsNodeLoads()) ? 'tfjs-node' : 'wasm';
  assert.equal(await initEngine('auto'), expected);
  assert.equal(await initEngine(), expected);
  assert.equal(activeBackend(), expected);
});

test("'tfjs-node' when it cannot load is a BACKEND_UNAVAILABLE error naming --backend", async (t) => {
  if (await tfjsNodeLoads()) return t.skip('@tensorflow/tfjs-node is installed here');
  await assert.rejects(initEngine('tfjs-node'), (e: unknown) => {
    assert.ok(isSlimnetError(e));
    assert.equal(e.code, 'BACKEND_UNAVAILABLE');
    assert.equal(e.where, '--backend');
    assert.match(e.hint ?? '', /wasm/);
    return true;
  });
  // The failed request left the previous backend in place.
  assert.notEqual(tf.getBackend(), 'tensorflow');
});

test('initEngine is idempotent, serialises concurrent calls and registers the wasm kernels once', async () => {
  const results = await Promise.all([initEngine('wasm'), initEngine('wasm'), initEngine('wasm')]);
  assert.deepEqual(results, ['wasm', 'wasm', 'wasm']);
  assert.equal(activeBackend(), 'wasm');
  for (const kernel of ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'MaxPoolGrad']) {
    assert.ok(tf.getKernel(kernel, 'wasm'), `${kernel} registered for wasm`);
  }
  assert.deepEqual(registerWasmGradientKernels(), [], 'a second registration does nothing');
});

test("the cpu backend starts without tfjs's tfjs-node banner", async () => {
  const warnings: string[] = [];
  const original = console.warn;
  console.warn = (...args: unknown[]) => void warnings.push(args.join(' '));
  try {
    assert.equal(await initEngine('cpu'), 'cpu');
    tf.tidy(() => tf.add(tf.tensor1d([1, 2]), 1).dataSync());
  } finally {
    console.warn = original;
  }
  assert.deepEqual(warnings, []);
  assert.equal(activeBackend(), 'cpu');
  assert.equal(await initEngine('wasm'), 'wasm');
});

/** Two classes of 8x8 images: a bright 3x3 blob in the left or the right half, on seeded noise. */
function blobData(count: number): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const pixels = new Float32Array(count * 64);
  const labels = new Float32Array(count);
  let state = 12345;
  const rand = () => ((state = (state * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (let n = 0; n < count; n++) {
    const label = n % 2;
    labels[n] = label;
    for (let p = 0; p < 64; p++) pixels[n * 64 + p] = rand() * 0.3;
    const top = Math.floor(rand() * 6);
    const left = label * 4 + Math.floor(rand() * 2);
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) pixels[n * 64 + (top + r) * 8 + left + c] = 1;
  }
  return { x: tf.tensor4d(pixels, [count, 8, 8, 1]), y: tf.tensor1d(labels) };
}

test('model.fit on wasm trains Conv2D -> BatchNormalization -> ReLU -> MaxPool -> Flatten -> Dense and lowers the loss', async () => {
  await initEngine('wasm');
  const before = tf.memory().numTensors;
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.batchNormalization(),
      tf.layers.reLU(),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
    ],
  });
  const optimizer = tf.train.adam(0.02);
  model.compile({ optimizer, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] });
  const { x, y } = blobData(64);
  const history = await model.fit(x, y, { epochs: 15, batchSize: 16, shuffle: false, verbose: 0 });
  const losses = history.history.loss as number[];
  const accuracy = history.history.acc as number[];
  assert.ok(losses.every(Number.isFinite), `finite losses: ${losses}`);
  assert.ok(losses.at(-1)! < 0.5 * losses[0]!, `loss fell from ${losses[0]} to ${losses.at(-1)}`);
  assert.ok(accuracy.at(-1)! >= 0.9, `final training accuracy ${accuracy.at(-1)}`);
  tf.dispose([x, y]);
  model.dispose();
  optimizer.dispose(); // a model only disposes optimizers it created itself
  assert.equal(tf.memory().numTensors, before, 'fit and dispose leave no tensors behind');
});
