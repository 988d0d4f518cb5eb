/**
 * The data-driven importance criteria, computed on a few batches:
 * - taylor: first-order Taylor estimate of the loss change when a class is removed (Molchanov et al.): per
 *   batch, (Σ over the class's parameters of w·∂L/∂w)², summed over batches, per bound trainable weight.
 * - activation: mean |activation| of each channel where consumers read it, on calibration samples (read on
 *   onnxruntime when the model exports to ONNX, else tfjs; taylor needs gradients and stays on tfjs).
 */
import * as tf from '@tensorflow/tfjs';
import { openActivationReader, type ActivationEngine } from '../calibrate.ts';
import { batches } from '../data/splits.ts';
import { buildTfjsModel } from '../io/tfjs-model.ts';
import { firstOutput } from '../train/tfjs-fine-tune.ts';
import { trainingIR } from '../train/training-ir.ts';
import type { CriterionContext, LocalScore } from './criteria.ts';
import { reduceAlongAxis } from './criteria.ts';

export async function taylorScores(ctx: CriterionContext): Promise<LocalScore[]> {
  // Without a softmax head the output is taken to be logits already.
  const logitsIr = trainingIR(ctx.ir).ir;
  const model = await buildTfjsModel(logitsIr);
  try {
    const variables = new Map(model.trainableWeights.map((w) => [w.originalName, w.read() as tf.Variable]));
    const bound = ctx.analysis.bindings.filter((b) => variables.has(`${b.layer}/${b.weight}`));
    const classLists = bound.map((b) => [...new Set(b.classes)]);
    const acc = bound.map((_, i) => new Float64Array(classLists[i]!.length));
    const names = [...new Set(bound.map((b) => `${b.layer}/${b.weight}`))];
    const varList = names.map((n) => variables.get(n)!);
    for (const batch of batches(ctx.data, ctx.batchSize)) {
      const { value, grads } = tf.variableGrads(() => {
        const x = tf.tensor(batch.x, [batch.size, ...ctx.data.sampleShape]);
        const out = firstOutput(model.apply(x));
        const labels = tf.oneHot(tf.tensor1d(batch.y, 'int32'), out.shape[out.shape.length - 1]!);
        return tf.losses.softmaxCrossEntropy(labels, out) as tf.Scalar;
      }, varList);
      const products = new Map<string, Float32Array>();
      for (const [i, n] of names.entries()) {
        const wg = tf.mul(varList[i]!, grads[varList[i]!.name]!);
        products.set(n, wg.dataSync() as Float32Array);
        wg.dispose();
      }
      tf.dispose([value, ...Object.values(grads)]);
      bound.forEach((b, i) => {
        const v = variables.get(`${b.layer}/${b.weight}`)!;
        const perIndex = reduceAlongAxis(products.get(`${b.layer}/${b.weight}`)!, v.shape, b.axis, (s, x) => s + x);
        const perClass = new Map<number, number>();
        b.classes.forEach((k, j) => perClass.set(k, (perClass.get(k) ?? 0) + perIndex[j]!));
        classLists[i]!.forEach((k, j) => (acc[i]![j] += perClass.get(k)! ** 2));
      });
    }
    return bound.map((_, i) => ({ binding: { classes: Int32Array.from(classLists[i]!) }, perIndex: acc[i]! }));
  } finally {
    model.dispose();
  }
}

export async function activationScores(ctx: CriterionContext, engine: ActivationEngine = 'auto'): Promise<LocalScore[]> {
  const inputLayers = new Set(ctx.ir.inputs);
  const sources = [
    ...new Set(
      ctx.analysis.bindings
        .filter((b) => b.role === 'in')
        .map((b) => ctx.ir.layers.find((l) => l.name === b.layer)!.inputs[0]!)
        .filter((n) => !inputLayers.has(n) && ctx.analysis.slots.has(n)),
    ),
  ];
  if (sources.length === 0) return [];
  const reader = await openActivationReader(ctx.ir, sources, { engine });
  try {
    const sums = sources.map((n) => new Float64Array(ctx.analysis.slots.get(n)!.length));
    for (const batch of batches(ctx.data, ctx.batchSize)) {
      const outs = await reader.read(batch.x, batch.size, ctx.data.sampleShape);
      sources.forEach((n, i) => {
        // Per sample, mean |x| over every axis but the (last, channel) one; summed over samples here.
        const shape = reader.sampleShapes[n]!;
        const channels = shape[shape.length - 1]!;
        const positions = shape.reduce((a, b) => a * b, 1) / channels;
        const v = outs[n]!;
        const sum = sums[i]!;
        for (let k = 0; k < v.length; k++) sum[k % channels] += Math.abs(v[k]!) / positions;
      });
    }
    return sources.map((n, i) => ({ binding: { classes: ctx.analysis.slots.get(n)! }, perIndex: sums[i]!.map((s) => s / ctx.data.count) }));
  } finally {
    reader.dispose();
  }
}
