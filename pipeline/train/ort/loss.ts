/**
 * The training loss on the model's logits (the output layer's input to its final softmax) and its gradient,
 * written out by hand rather than differentiated through softmax + log (exact and stable):
 *   loss = (1 − α)·CE(labels, softmax(z)) + α·T²·KL(softmax(t/T) ‖ softmax(z/T))      (means over the batch)
 *   dL/dz = [(1 − α)·(softmax(z) − labels) + α·T·(softmax(z/T) − softmax(t/T))] / N
 * `labels` are one-hot rows; `t` is the teacher's logits (anything whose softmax is the teacher's distribution,
 * e.g. log-probabilities), so the temperature is applied inside the graph.
 */
import type { GraphBuilder } from '../../onnx/builder.ts';
import type { LayerIR, ModelIR } from '../../ir.ts';
import { layerClass } from '../../layers/registry.ts';
import { mul, reduceSum, reshape, scalar } from './ops.ts';

export interface LossOptions {
  numClasses: number;
  /** Weight of the distillation term, in [0, 1]. */
  alpha: number;
  temperature: number;
}

export interface LossGraph {
  loss: string;
  dLogits: string;
  /** Graph input names: one-hot labels [batch, classes] (absent when alpha = 1), teacher logits (absent when alpha = 0). */
  labels?: string;
  teacher?: string;
}

export const LABELS_INPUT = 'labels';
export const TEACHER_INPUT = 'teacher_logits';

export function buildLoss(b: GraphBuilder, logits: string, opts: LossOptions): LossGraph {
  const { alpha, temperature: T, numClasses } = opts;
  const rowShape = [null, numClasses];
  const h = 'loss';
  const batch = b.op('Cast', [b.op('Gather', [b.op('Shape', [logits], {}, `${h}/shape`), b.int64Const(`${h}/batch_axis`, [0])], { axis: { i: 0 } }, `${h}/n`)], { to: { i: 1 } }, `${h}/n_float`);
  const invBatch = reshape(b, b.op('Reciprocal', [batch], {}, `${h}/inv_n_1`), [], `${h}/inv_n`);
  const terms: string[] = [];
  const grads: string[] = [];
  const out: Partial<LossGraph> = {};

  if (alpha < 1) {
    const labels = b.claim(LABELS_INPUT);
    b.addInput(labels, rowShape);
    out.labels = labels;
    const logp = b.op('LogSoftmax', [logits], { axis: { i: 1 } }, `${h}/log_p`);
    const ce = b.op('Neg', [reduceSum(b, mul(b, labels, logp, `${h}/y_log_p`), [0, 1], false, `${h}/sum_y_log_p`)], {}, `${h}/ce_sum`);
    terms.push(mul(b, ce, scalar(b, `${h}/w_ce`, 1 - alpha), `${h}/ce_weighted`));
    const diff = b.op('Sub', [b.op('Exp', [logp], {}, `${h}/p`), labels], {}, `${h}/p_minus_y`);
    grads.push(alpha === 0 ? diff : mul(b, diff, scalar(b, `${h}/g_ce`, 1 - alpha), `${h}/d_ce`));
  }
  if (alpha > 0) {
    const teacher = b.claim(TEACHER_INPUT);
    b.addInput(teacher, rowShape);
    out.teacher = teacher;
    const invT = scalar(b, `${h}/inv_t`, 1 / T);
    const logq = b.op('LogSoftmax', [mul(b, logits, invT, `${h}/z_t`)], { axis: { i: 1 } }, `${h}/log_q`);
    const logt = b.op('LogSoftmax', [mul(b, teacher, invT, `${h}/teacher_t`)], { axis: { i: 1 } }, `${h}/log_t`);
    const t = b.op('Exp', [logt], {}, `${h}/t`);
    const kl = reduceSum(b, mul(b, t, b.op('Sub', [logt, logq], {}, `${h}/log_ratio`), `${h}/kl_terms`), [0, 1], false, `${h}/kl_sum`);
    terms.push(mul(b, kl, scalar(b, `${h}/w_kd`, alpha * T * T), `${h}/kd_weighted`));
    const diff = b.op('Sub', [b.op('Exp', [logq], {}, `${h}/q`), t], {}, `${h}/q_minus_t`);
    grads.push(mul(b, diff, scalar(b, `${h}/g_kd`, alpha * T), `${h}/d_kd`));
  }
  const total = terms.length === 1 ? terms[0] : b.op('Add', terms, {}, `${h}/sum`);
  const grad = grads.length === 1 ? grads[0] : b.op('Add', grads, {}, `${h}/d_sum`);
  return {
    ...out,
    loss: mul(b, total, invBatch, `${h}/mean`),
    dLogits: mul(b, grad, invBatch, `${h}/d_logits`),
  };
}

/** The model's single output layer, if it ends in a softmax over the class axis of a [batch, classes] output. */
export function softmaxOutputProblem(ir: ModelIR, outputRank: number): { layer: LayerIR; problem?: string } | undefined {
  if (ir.outputs.length !== 1) return undefined;
  const layer = ir.layers.find((l) => l.name === ir.outputs[0]);
  if (!layer) return undefined;
  if (outputRank !== 2) return { layer, problem: `a rank-${outputRank} output (classification needs [batch, classes])` };
  return finalSoftmax(layer) ? { layer } : { layer, problem: 'an output without a final softmax (the loss is cross-entropy on class probabilities)' };
}

/** Whether `layer` ends in a softmax over the class axis of a [batch, classes] output (fused, Activation or Softmax layer). */
function finalSoftmax(layer: LayerIR): boolean {
  const last = layerClass(layer.className)?.finalActivation?.(layer.config);
  return last?.name === 'softmax' && (last.axis === undefined || last.axis === -1 || last.axis === 1);
}
