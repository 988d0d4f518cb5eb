/**
 * The data-driven importance criteria, computed with tfjs on a few batches:
 * - taylor: first-order Taylor estimate of the loss change when a class is removed (Molchanov et al.): per
 *   batch, (Σ over the class's parameters of w·∂L/∂w)², summed over batches, per bound trainable weight.
 * - activation: mean |activation| of each channel where consumers read it, on calibration samples.
 */
import * as tf from '@tensorflow/tfjs';
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

export async function activationScores(ctx: CriterionContext): Promise<LocalScore[]> {
  const model = await buildTfjsModel(ctx.ir);
  try {
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
    const probe = tf.model({ inputs: model.inputs, outputs: sources.map((n) => model.getLayer(n).output as tf.SymbolicTensor) });
    const sums = sources.map((n) => new Float64Array(ctx.analysis.slots.get(n)!.length));
    for (const batch of batches(ctx.data, ctx.batchSize)) {
      const outs = tf.tidy(() => {
        const y = probe.predict(tf.tensor(batch.x, [batch.size, ...ctx.data.sampleShape]));
        const list = Array.isArray(y) ? y : [y];
        // Mean |x| over every axis but the channels, times the batch size so sums over batches stay means.
        return list.map((t) => tf.mul(tf.mean(tf.abs(t.reshape([-1, t.shape[t.shape.length - 1]!])), 0), batch.size));
      });
      outs.forEach((t, i) => {
        const v = t.dataSync();
        for (let c = 0; c < v.length; c++) sums[i]![c] += v[c]!;
      });
      tf.dispose(outs);
    }
    return sources.map((n, i) => ({ binding: { classes: ctx.analysis.slots.get(n)! }, perIndex: sums[i]!.map((s) => s / ctx.data.count) }));
  } finally {
    model.dispose();
  }
}
