/**
 * A FineTuner on tfjs (whatever backend initEngine chose; wasm has the gradient kernels it lacks registered):
 * knowledge distillation from a teacher's temperature-softened outputs plus cross-entropy on the hard labels,
 * following the shared recipe (recipe.ts: batch order, limits, learning-rate schedule, progress). Works on logits (trainingIR), so a softmax head
 * is trained through its logits and restored afterwards. Every tensor is disposed.
 *
 * Dropout masks are seeded: tfjs's Dropout layer draws its mask from its `seed` field on every call, so each step
 * gets a fresh seed from a stream derived from opts.seed (a fixed seed would repeat one mask every step).
 */
import * as tf from '@tensorflow/tfjs';
import { buildTfjsModel, irFromTfjsModel } from '../io/tfjs-model.ts';
import { createRng, deriveSeed } from '../random.ts';
import { checkFineTuneOptions, runRecipe } from './recipe.ts';
import { copyWeightsByName, trainingIR } from './training-ir.ts';
import type { FineTuneResult, FineTuner } from './types.ts';

export const tfjsFineTune: FineTuner = async (ir, opts) => {
  checkFineTuneOptions(opts);
  const started = performance.now();
  const prepared = trainingIR(ir);
  const student = await buildTfjsModel(prepared.ir);
  const distil = opts.teacher !== undefined && opts.alpha > 0;
  const teacher = distil ? await buildTfjsModel(trainingIR(opts.teacher!).ir) : undefined;
  const optimizer = opts.optimizer === 'sgd-momentum' ? tf.train.momentum(opts.learningRate, 0.9) : tf.train.adam(opts.learningRate);
  const variables = student.trainableWeights.filter((w) => !prepared.frozen.has(w.originalName)).map((w) => w.read() as tf.Variable);
  const dropoutRng = createRng(deriveSeed(opts.seed, 'dropout'));
  const dropouts = student.layers.filter((l) => 'seed' in l && 'rate' in l) as unknown as { seed?: number }[];
  const { sampleShape } = opts.train;
  try {
    const run = await runRecipe(opts, async (batch, learningRate) => {
      // tfjs optimizers read their learningRate field on every step.
      (optimizer as unknown as { learningRate: number }).learningRate = learningRate;
      for (const d of dropouts) d.seed = dropoutRng.int(2 ** 31 - 1);
      const x = tf.tensor(batch.x, [batch.size, ...sampleShape]);
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
      const loss = (await cost!.data())[0]!;
      tf.dispose([x, cost!]);
      if (soft) tf.dispose([soft.logProbs, soft.probs]);
      return loss;
    }, started);
    const trained = await irFromTfjsModel(student);
    const result: FineTuneResult = { ir: copyWeightsByName(trained, ir), engine: `tfjs-${tf.getBackend()}`, ...run };
    opts.onProgress?.({ samples: result.samples, loss: result.finalLoss, seconds: result.seconds });
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
