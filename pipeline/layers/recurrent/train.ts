/**
 * onnxruntime training rules of SimpleRNN, LSTM, GRU and Bidirectional: the layer unrolled over its time steps
 * (unrolled.ts) with the weights as graph inputs, and backpropagation through time (bptt.ts). Dropout and
 * recurrent_dropout are not applied while fine-tuning on onnxruntime (they only regularise training; inference
 * never uses them).
 */
import type { GraphBuilder, TensorRef } from '../../onnx/builder.ts';
import type { LayerIR } from '../../ir.ts';
import { scalar } from '../../train/ort/ops.ts';
import type { Backward, BackwardContext, Forward, ForwardContext, LayerRule, WeightAccess } from '../../train/ort/rule.ts';
import { activationForward, trainingActivation, type Activation } from '../activations/functions.ts';
import { bptt, type CellActivations } from './bptt.ts';
import { cellActivations, type CellKind } from './cells.ts';
import type { BidirectionalConfig, RnnConfig } from './config.ts';
import { mergeDirections } from './onnx.ts';
import { reversed, split, unrolledForward, type UnrolledRun } from './unrolled.ts';

interface Direction {
  run: UnrolledRun;
  prefix: string;
  /** This direction's output as merged (the backward one reversed back to input order). */
  merged: string;
  reversedBack: boolean;
}

interface RnnSaved {
  acts: CellActivations;
  dirs: Direction[];
}

function trainingActs(kind: CellKind, c: RnnConfig): CellActivations | string {
  const named = cellActivations(kind, c);
  const act = trainingActivation(named.act);
  if (!act) return `activation "${named.act}"`;
  if (named.gate === undefined) return { act };
  const gate = trainingActivation(named.gate);
  return gate ? { act, gate } : `recurrent_activation "${named.gate}"`;
}

function problem(kind: CellKind, c: RnnConfig, inShape: (number | null)[]): string | undefined {
  const acts = trainingActs(kind, c);
  if (typeof acts === 'string') return acts;
  if (inShape.length !== 3 || inShape.slice(1).some((d) => d === null)) return `input shape [${inShape}] (needs [batch, steps, features] with fixed sizes)`;
  return undefined;
}

function activator(b: GraphBuilder, acts: CellActivations) {
  return (which: 'act' | 'gate', x: string, hint: string) => {
    const act: Activation = which === 'act' ? acts.act : acts.gate!;
    return activationForward(b, act, { name: x, layout: 'keras', shape: [1, null, null] }, hint).name;
  };
}

/** One direction's unrolled forward with weights `prefix`kernel etc. read through the training registry. */
function runDirection(b: GraphBuilder, kind: CellKind, c: RnnConfig, x: TensorRef, weights: WeightAccess, acts: CellActivations, prefix: string, goBackwards: boolean, hint: string): UnrolledRun {
  const w = {
    kernel: weights.weight(`${prefix}kernel`),
    recurrent: weights.weight(`${prefix}recurrent_kernel`),
    bias: c.useBias ? weights.weight(`${prefix}bias`) : undefined,
  };
  const opts = { units: c.units, steps: x.shape[1] as number, features: x.shape[2] as number, goBackwards, returnSequences: c.returnSequences };
  return unrolledForward(b, kind, opts, x.name, w, activator(b, acts), hint);
}

/** Reverses a [B, T, u] sequence along T. */
function reverseTime(b: GraphBuilder, seq: string, steps: number, hint: string): string {
  return b.op('Gather', [seq, reversed(b, steps, `${hint}_idx`)], { axis: { i: 1 } }, hint);
}

/** Gradients of the directions' outputs from the merged output's gradient (tfjs's merge, differentiated). */
function splitMergeGrad(b: GraphBuilder, mode: BidirectionalConfig['mergeMode'], dOut: string, dirs: Direction[], rank: number, hint: string): [string, string] {
  switch (mode) {
    case 'concat': return split(b, dOut, rank - 1, 2, `${hint}/d_concat`) as [string, string];
    case 'sum': return [dOut, dOut];
    case 'ave': {
      const half = b.op('Mul', [dOut, scalar(b, `${hint}/half`, 0.5)], {}, `${hint}/d_ave`);
      return [half, half];
    }
    case 'mul': return [
      b.op('Mul', [dOut, dirs[1]!.merged], {}, `${hint}/d_mul_forward`),
      b.op('Mul', [dOut, dirs[0]!.merged], {}, `${hint}/d_mul_backward`),
    ];
  }
}

function backwardOf(ctx: BackwardContext<RnnSaved, any>, dOuts: string[]): Backward {
  const { b, layer, inputs, forward, needInput, trainable } = ctx;
  const weights: Record<string, string> = {};
  const dxs: string[] = [];
  forward.saved.dirs.forEach((d, i) => {
    const h = `${layer.name}/grad${d.prefix ? `/${d.prefix.slice(0, -1)}` : ''}`;
    const dOut = d.reversedBack ? reverseTime(b, dOuts[i]!, d.run.steps, `${h}/d_processing_order`) : dOuts[i]!;
    const r = bptt(b, d.run, forward.saved.acts, dOut, needInput[0]!, h);
    if (r.dx) dxs.push(r.dx);
    const grads: Record<string, string> = { kernel: r.kernel, recurrent_kernel: r.recurrent, bias: r.bias };
    for (const [w, g] of Object.entries(grads)) if (trainable.has(`${d.prefix}${w}`)) weights[`${d.prefix}${w}`] = g;
  });
  const dx = dxs.length === 0 ? undefined : dxs.length === 1 ? dxs[0]! : b.op('Add', dxs, {}, `${layer.name}/grad/input`);
  return { inputs: [dx ? { name: dx, layout: 'keras', shape: inputs[0]!.shape } : undefined], weights };
}

export function rnnRule(kind: CellKind): LayerRule<RnnSaved, RnnConfig> {
  return {
    unsupported: (layer, [inShape]) => problem(kind, layer.config, inShape!),
    forward({ b, layer, inputs, outShape, weights }: ForwardContext<RnnConfig>): Forward<RnnSaved> {
      const c = layer.config;
      const acts = trainingActs(kind, c) as CellActivations;
      const x = b.inLayout(inputs[0]!, 'keras');
      const run = runDirection(b, kind, c, x, weights, acts, '', c.goBackwards, layer.name);
      return {
        pre: { name: run.output, layout: 'keras', shape: outShape },
        activation: { kind: 'linear' },
        saved: { acts, dirs: [{ run, prefix: '', merged: run.output, reversedBack: false }] },
      };
    },
    backward: (ctx) => backwardOf(ctx, [ctx.dPre]),
  };
}

export function bidirectionalRule(kindOf: (c: BidirectionalConfig) => CellKind): LayerRule<RnnSaved, BidirectionalConfig> {
  const inner = (layer: LayerIR<BidirectionalConfig>) => layer.config.layer.config;
  return {
    unsupported: (layer, [inShape]) => problem(kindOf(layer.config), inner(layer), inShape!),
    forward({ b, layer, inputs, outShape, weights }: ForwardContext<BidirectionalConfig>): Forward<RnnSaved> {
      const c = inner(layer);
      const kind = kindOf(layer.config);
      const acts = trainingActs(kind, c) as CellActivations;
      const x = b.inLayout(inputs[0]!, 'keras');
      const dirs = (['forward', 'backward'] as const).map((side): Direction => {
        const prefix = `${side}_${c.name}/`;
        const run = runDirection(b, kind, c, x, weights, acts, prefix, side === 'forward' ? c.goBackwards : !c.goBackwards, `${layer.name}/${side}`);
        const reversedBack = side === 'backward' && c.returnSequences;
        const merged = reversedBack ? reverseTime(b, run.output, run.steps, `${layer.name}/backward/input_order`) : run.output;
        return { run, prefix, merged, reversedBack };
      });
      const out = mergeDirections(b, layer.config.mergeMode, dirs[0]!.merged, dirs[1]!.merged, outShape.length, layer.name);
      return { pre: { name: out, layout: 'keras', shape: outShape }, activation: { kind: 'linear' }, saved: { acts, dirs } };
    },
    backward(ctx) {
      const rank = ctx.forward.pre.shape.length;
      const dOuts = splitMergeGrad(ctx.b, ctx.layer.config.mergeMode, ctx.dPre, ctx.forward.saved.dirs, rank, `${ctx.layer.name}/grad`);
      return backwardOf(ctx, dOuts);
    },
  };
}
