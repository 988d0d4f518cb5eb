/**
 * A FineTuner on tfjs (whatever backend initEngine chose; wasm has the gradient kernels it lacks registered):
 * knowledge distillation from a teacher's temperature-softened outputs plus cross-entropy on the hard labels,
 * with a seeded batch order and epoch / sample / time limits. Works on logits (trainingIR), so a softmax head
 * is trained through its logits and restored afterwards. Every tensor is disposed.
 *
 * The learning rate follows a cosine decay to zero over the planned samples (epochs × training samples or
 * maxSamples, whichever is smaller); with only a time limit it stays constant.
 *
 * Dropout masks are seeded: tfjs's Dropout layer draws its mask from its `seed` field on every call, so each step
 * gets a fresh seed from a stream derived from opts.seed (a fixed seed would repeat one mask every step).
 */
import * as tf from '@tensorflow/tfjs';
import { batches } from '../data/splits.ts';
import { buildTfjsModel, irFromTfjsModel } from '../io/tfjs-model.ts';
import { createRng, deriveSeed, permutation } from '../random.ts';
import { copyWeightsByName, trainingIR } from './training-ir.ts';
import type { FineTuneOptions, FineTuneResult, FineTuner } from './types.ts';

/** Progress is reported about this often (and once at the end). */
const PROGRESS_EVERY_SECONDS = 2;

export const tfjsFineTune: FineTuner = async (ir, opts) => {
  checkLimits(opts);
  const started = performance.now();
  const seconds = () => (performance.now() - started) / 1000;
  const prepared = trainingIR(ir);
  const student = await buildTfjsModel(prepared.ir);
  const distil = opts.teacher !== undefined && opts.alpha > 0;
  const teacher = distil ? await buildTfjsModel(trainingIR(opts.teacher!).ir) : undefined;
  const optimizer = opts.optimizer === 'sgd-momentum' ? tf.train.momentum(opts.learningRate, 0.9) : tf.train.adam(opts.learningRate);
  const variables = student.trainableWeights.filter((w) => !prepared.frozen.has(w.originalName)).map((w) => w.read() as tf.Variable);
  const rng = createRng(opts.seed);
  const dropoutRng = createRng(deriveSeed(opts.seed, 'dropout'));
  const dropouts = student.layers.filter((l) => 'seed' in l && 'rate' in l) as unknown as { seed?: number }[];
  const { train } = opts;
  const maxEpochs = opts.epochs ?? Number.POSITIVE_INFINITY;
  const planned = Math.min(maxEpochs * train.count, opts.maxSamples ?? Number.POSITIVE_INFINITY);
  const setRate = (done: number) => {
    const rate = Number.isFinite(planned) ? opts.learningRate * 0.5 * (1 + Math.cos((Math.PI * Math.min(done, planned)) / planned)) : opts.learningRate;
    // tfjs optimizers read their learningRate field on every step.
    (optimizer as unknown as { learningRate: number }).learningRate = rate;
  };
  let samples = 0;
  let lossSum = 0;
  let lossCount = 0;
  let lastLoss = Number.NaN;
  let lastReport = 0;
  try {
    outer: for (let epoch = 0; epoch < maxEpochs; epoch++) {
      const order = permutation(train.count, rng);
      for (const full of batches(train, opts.batchSize, order)) {
        const left = (opts.maxSamples ?? Number.POSITIVE_INFINITY) - samples;
        if (left <= 0 || seconds() >= (opts.maxSeconds ?? Number.POSITIVE_INFINITY)) break outer;
        const batch = left >= full.size ? full : { ...full, size: left, x: full.x.subarray(0, left * (full.x.length / full.size)), y: full.y.subarray(0, left) };
        setRate(samples);
        for (const d of dropouts) d.seed = dropoutRng.int(2 ** 31 - 1);
        const x = tf.tensor(batch.x, [batch.size, ...train.sampleShape]);
        const soft = teacher
          ? tf.tidy(() => {
              const logProbs = tf.logSoftmax(tf.div(firstOutput(teacher.predict(x)), opts.temperature));
              return { logProbs, probs: tf.exp(logProbs) };
            })
          : undefined;
        const cost = optimizer.minimize(() => {
          const logits = firstOutput(student.apply(x, { training: true }));
          const labels = tf.oneHot(tf.tensor1d(batch.y, 'int32'), logits.shape[logits.shape.length - 1]!);
          const hard = tf.losses.softmaxCrossEntropy(labels, logits);
          if (!soft) return hard as tf.Scalar;
          // KL(teacher ‖ student) at temperature T, scaled by T² (Hinton et al.) so its gradients match the hard loss's scale.
          const studentLog = tf.logSoftmax(tf.div(logits, opts.temperature));
          const kl = tf.sum(tf.mul(soft.probs, tf.sub(soft.logProbs, studentLog)), -1);
          const kd = tf.mul(tf.mean(kl), opts.temperature ** 2);
          return tf.add(tf.mul(kd, opts.alpha), tf.mul(hard, 1 - opts.alpha)) as tf.Scalar;
        }, true, variables);
        lastLoss = (await cost!.data())[0]!;
        tf.dispose([x, cost!]);
        if (soft) tf.dispose([soft.logProbs, soft.probs]);
        samples += batch.size;
        lossSum += lastLoss * batch.size;
        lossCount += batch.size;
        if (opts.onProgress && seconds() - lastReport >= PROGRESS_EVERY_SECONDS) {
          lastReport = seconds();
          opts.onProgress({ samples, loss: lossSum / lossCount, seconds: lastReport });
          [lossSum, lossCount] = [0, 0];
        }
      }
    }
    const trained = await irFromTfjsModel(student);
    const result: FineTuneResult = { ir: copyWeightsByName(trained, ir), engine: `tfjs-${tf.getBackend()}`, samples, seconds: seconds(), finalLoss: lossCount ? lossSum / lossCount : lastLoss };
    opts.onProgress?.({ samples, loss: result.finalLoss, seconds: result.seconds });
    return result;
  } finally {
    optimizer.dispose();
    student.dispose();
    teacher?.dispose();
  }
};

/** Models with several outputs are trained on the first (the one slimnet evaluates). */
export function firstOutput(y: tf.Tensor | tf.Tensor[] | tf.SymbolicTensor | tf.SymbolicTensor[]): tf.Tensor {
  return (Array.isArray(y) ? y[0] : y) as tf.Tensor;
}

function checkLimits(opts: FineTuneOptions): void {
  const limits = [opts.epochs, opts.maxSamples, opts.maxSeconds].filter((v) => v !== undefined);
  if (limits.length === 0) throw new Error('fine-tuning needs at least one of epochs, maxSamples, maxSeconds');
  if (limits.some((v) => !(v! > 0))) throw new Error(`fine-tuning limits must be positive: ${JSON.stringify({ epochs: opts.epochs, maxSamples: opts.maxSamples, maxSeconds: opts.maxSeconds })}`);
  if (!(opts.temperature > 0) || !(opts.alpha >= 0 && opts.alpha <= 1)) throw new Error(`fine-tuning needs temperature > 0 and alpha in [0, 1]`);
  if (opts.train.count === 0) throw new Error('fine-tuning needs training samples');
}
