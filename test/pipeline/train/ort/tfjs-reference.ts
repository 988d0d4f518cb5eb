/**
 * tfjs's own gradients and one optimizer step for a model IR, on the cpu backend: the reference the ORT training
 * engine is checked against. Layers run one by one in training mode (BatchNormalization uses batch statistics and
 * updates its running statistics), except where tfjs cannot give the reference itself:
 * - Dropout multiplies by the given mask, so both engines drop the same units;
 * - a dilated Conv2D convolves with the explicitly dilated kernel (tfjs has no gradient for dilated conv2d);
 * - a 'same'-padded AveragePooling2D is a depthwise sum divided by the real cells per window — its forward exactly,
 *   but differentiable: tfjs's AvgPoolGrad divides every window by the full pool area even where 'same' padding
 *   left fewer real cells (tfjs-backend-cpu AvgPoolGrad.js, avgMultiplier), which is not the forward's gradient.
 * The loss is the one loss.ts defines, computed from the model's softmax output.
 */
import * as tf from '@tensorflow/tfjs';
import { buildTfjsModel, irFromTfjsModel } from '../../../../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../../../../pipeline/ir.ts';

export interface ReferenceBatch {
  x: Float32Array;
  y: Int32Array;
  size: number;
  sampleShape: number[];
  numClasses: number;
  teacherLogits?: Float32Array;
  masks?: Map<string, Float32Array>;
}

export interface ReferenceOptions {
  alpha: number;
  temperature: number;
  optimizer?: { name: 'adam' | 'sgd-momentum'; learningRate: number };
  /** 'moving': BatchNormalization layers run in inference mode (frozen running statistics). */
  batchNorm?: 'batch' | 'moving';
}

export interface ReferenceResult {
  loss: number;
  /** `${layer}/${weight}` → gradient (IR layout). */
  gradients: Map<string, Float32Array>;
  /** The model after the step (running statistics updated; weights updated when an optimizer was given). */
  after: ModelIR;
}

const pair = (v: unknown, fallback: [number, number]): [number, number] =>
  v === undefined || v === null ? fallback : typeof v === 'number' ? [v, v] : [(v as number[])[0], (v as number[])[1]];

function callLayer(layer: tf.layers.Layer, className: string, ins: tf.Tensor[], mask?: tf.Tensor, batchNorm: 'batch' | 'moving' = 'batch'): tf.Tensor {
  const config = layer.getConfig();
  if (className === 'BatchNormalization' && batchNorm === 'moving') return layer.apply(ins[0]!, { training: false }) as tf.Tensor;
  if (className === 'Dropout' && mask) return tf.mul(ins[0], mask.reshape(ins[0].shape));
  if (className === 'Conv2D' && pair(config.dilationRate, [1, 1]).some((d) => d > 1)) return dilatedConv(layer, ins[0] as tf.Tensor4D);
  if (className === 'AveragePooling2D' && config.padding === 'same') return samePaddedAveragePool(layer, ins[0] as tf.Tensor4D);
  if (className === 'BatchNormalization' && (config.center === false || config.scale === false)) return batchNormWithoutBetaOrGamma(layer, ins[0]);
  return layer.apply(ins.length === 1 ? ins[0] : ins, { training: true }) as tf.Tensor;
}

function dilatedConv(layer: tf.layers.Layer, x: tf.Tensor4D): tf.Tensor {
  const config = layer.getConfig();
  const [dh, dw] = pair(config.dilationRate, [1, 1]);
  const [kernel, bias] = layer.trainableWeights.map((w) => w.read());
  const [kh, kw, cin, cout] = kernel.shape;
  // [kh, 1, kw, 1, ...] padded to [kh, dh, kw, dw, ...]: each tap followed by dilation − 1 zeros.
  const spaced = tf.pad(kernel.reshape([kh, 1, kw, 1, cin, cout]), [[0, 0], [0, dh - 1], [0, 0], [0, dw - 1], [0, 0], [0, 0]]);
  const dilated = spaced.reshape([kh * dh, kw * dw, cin, cout]).slice([0, 0, 0, 0], [(kh - 1) * dh + 1, (kw - 1) * dw + 1, cin, cout]);
  let y: tf.Tensor = tf.conv2d(x, dilated as tf.Tensor4D, pair(config.strides, [1, 1]), config.padding as 'same' | 'valid');
  if (bias) y = tf.add(y, bias);
  const activation = (config.activation as string | undefined) ?? 'linear';
  const apply: Record<string, (t: tf.Tensor) => tf.Tensor> = { linear: (t) => t, relu: tf.relu, tanh: tf.tanh, sigmoid: tf.sigmoid };
  return apply[activation](y);
}

function samePaddedAveragePool(layer: tf.layers.Layer, x: tf.Tensor4D): tf.Tensor {
  const config = layer.getConfig();
  const pool = pair(config.poolSize, [2, 2]);
  const strides = pair(config.strides, pool);
  const channels = x.shape[3];
  const sum = tf.depthwiseConv2d(x, tf.ones([...pool, channels, 1]) as tf.Tensor4D, strides, 'same');
  const counts = tf.depthwiseConv2d(tf.onesLike(x.slice([0, 0, 0, 0], [1, -1, -1, 1])) as tf.Tensor4D, tf.ones([...pool, 1, 1]) as tf.Tensor4D, strides, 'same');
  return tf.div(sum, counts);
}

interface BatchNormLayer {
  gamma?: tf.LayerVariable;
  beta?: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
  momentum: number;
  epsilon: number;
}

/**
 * tfjs-layers' BatchNormalization.call in training mode, step for step, for layers without beta or gamma: tfjs
 * itself throws on those in training (it calls this.beta.read() / this.gamma.read() unconditionally).
 */
function batchNormWithoutBetaOrGamma(layer: tf.layers.Layer, x: tf.Tensor): tf.Tensor {
  const l = layer as unknown as BatchNormLayer;
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  // tf.batchNorm's gradient cannot take a missing scale or offset either: spell it out.
  let y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, l.epsilon)));
  if (l.gamma) y = tf.mul(y, l.gamma.read());
  if (l.beta) y = tf.add(y, l.beta.read());
  for (const [v, batchValue] of [[l.movingMean, mean], [l.movingVariance, variance]] as const) {
    const orig = v.read();
    v.write(tf.sub(orig, tf.mul(tf.sub(orig, batchValue), 1 - l.momentum)));
  }
  return y;
}

export async function tfjsReferenceStep(ir: ModelIR, batch: ReferenceBatch, opts: ReferenceOptions): Promise<ReferenceResult> {
  const model = await buildTfjsModel(ir);
  const x = tf.tensor(batch.x.subarray(0, batch.size * batch.sampleShape.reduce((a, b) => a * b, 1)), [batch.size, ...batch.sampleShape]);
  const labels = tf.oneHot(tf.tensor1d(Array.from(batch.y.subarray(0, batch.size)), 'int32'), batch.numClasses).toFloat();
  const teacher = batch.teacherLogits ? tf.tensor2d(batch.teacherLogits, [batch.size, batch.numClasses]) : undefined;
  const masks = new Map([...(batch.masks ?? new Map<string, Float32Array>())].map(([k, v]) => [k, tf.tensor(v)]));

  const forward = (): tf.Tensor => {
    const outputs = new Map<string, tf.Tensor>();
    for (const layerIR of ir.layers) {
      if (layerIR.className === 'InputLayer') {
        outputs.set(layerIR.name, x);
        continue;
      }
      const ins = layerIR.inputs.map((n) => outputs.get(n)!);
      outputs.set(layerIR.name, callLayer(model.getLayer(layerIR.name), layerIR.className, ins, masks.get(layerIR.name), opts.batchNorm));
    }
    return outputs.get(ir.outputs[0])!;
  };
  const lossFn = (): tf.Scalar => {
    const p = forward();
    const n = batch.size;
    let total = tf.scalar(0);
    if (opts.alpha < 1) {
      const ce = tf.neg(tf.sum(tf.mul(labels, tf.log(p)))).div(n);
      total = total.add(ce.mul(1 - opts.alpha));
    }
    if (opts.alpha > 0) {
      const T = opts.temperature;
      const logq = tf.logSoftmax(tf.div(tf.log(p), T));
      const logt = tf.logSoftmax(tf.div(teacher!, T));
      const kl = tf.sum(tf.mul(tf.exp(logt), tf.sub(logt, logq))).div(n);
      total = total.add(kl.mul(opts.alpha * T * T));
    }
    return total as tf.Scalar;
  };

  const byVariable = new Map(model.trainableWeights.map((w) => [w.name, w.originalName]));
  // The model's trainable weights, as model.fit uses them: a layer loaded with trainable: false still holds
  // tf.Variables flagged trainable, which variableGrads' default (every trainable variable) would update.
  const varList = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const { value, grads } = tf.variableGrads(lossFn, varList);
  const gradients = new Map<string, Float32Array>();
  for (const [name, g] of Object.entries(grads)) {
    const key = byVariable.get(name);
    if (key) gradients.set(key, (await g.data()) as Float32Array);
  }
  if (opts.optimizer) {
    const optimizer = opts.optimizer.name === 'adam'
      ? tf.train.adam(opts.optimizer.learningRate)
      : tf.train.momentum(opts.optimizer.learningRate, 0.9);
    optimizer.applyGradients(grads as tf.NamedTensorMap as Parameters<typeof optimizer.applyGradients>[0]);
    optimizer.dispose();
  }
  const loss = (await value.data())[0];
  const after = await irFromTfjsModel(model);
  tf.dispose([value, ...Object.values(grads), x, labels, ...(teacher ? [teacher] : []), ...masks.values()]);
  model.dispose();
  return { loss, gradients, after };
}

/**
 * tfjs's optimizer applied once to `ir`'s weights with the given gradients (`${layer}/${weight}` keys, IR layout):
 * checks an engine's update arithmetic in isolation from its gradients. Returns the updated IR.
 */
export async function tfjsOptimizerStep(
  ir: ModelIR, gradients: Map<string, Float32Array>, optimizer: { name: 'adam' | 'sgd-momentum'; learningRate: number },
): Promise<ModelIR> {
  const model = await buildTfjsModel(ir);
  const grads: tf.NamedTensorMap = {};
  for (const w of model.trainableWeights) {
    const g = gradients.get(w.originalName);
    if (g) grads[(w.read() as tf.Variable).name] = tf.tensor(g, w.shape as number[]);
  }
  const opt = optimizer.name === 'adam' ? tf.train.adam(optimizer.learningRate) : tf.train.momentum(optimizer.learningRate, 0.9);
  opt.applyGradients(grads as Parameters<typeof opt.applyGradients>[0]);
  opt.dispose();
  const after = await irFromTfjsModel(model);
  tf.dispose(Object.values(grads));
  model.dispose();
  return after;
}
