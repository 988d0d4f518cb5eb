/**
 * TFLite (float32) export of the recurrent layers: the recurrence unrolled over its fixed time steps into builtin
 * ops — SLICE each step's input, FULLY_CONNECTED for the input and recurrent matmuls (weights [gates·units, in]),
 * ADD/MUL for the gate arithmetic, LOGISTIC/TANH/RELU for the activations (hard_sigmoid as MAXIMUM/MINIMUM around
 * 0.2·x + 0.5), CONCATENATION of the steps for return_sequences. The batch is 1, as the TFLite export runs it, so
 * the zero initial state is a constant. Not in int8 (the intermediate states would need calibrated ranges of their
 * own), nor activations without a TFLite op: both refused in one line.
 */
import { tfliteUnsupported, type TfliteConversion, type TfliteConvertContext } from '../../formats/tflite/converter.ts';
import type { TensorRef } from '../../formats/tflite/graph.ts';
import { binary, concatenation, fullyConnected, reshape, scalarConstant, slice, unary } from '../../formats/tflite/ops.ts';
import type { LayerIR } from '../../ir.ts';
import { requireWeight } from '../../onnx/converter.ts';
import type { ActivationName } from '../activations/names.ts';
import { cellActivations, type CellKind } from './cells.ts';
import type { BidirectionalConfig, MergeMode, RnnConfig } from './config.ts';

const SUPPORTED: readonly ActivationName[] = ['linear', 'tanh', 'sigmoid', 'hard_sigmoid', 'relu'];

interface Cell {
  kind: CellKind;
  c: RnnConfig;
  kernel: Float32Array;
  recurrent: Float32Array;
  bias?: Float32Array;
}

/** [rows, cols] (Keras) → [cols, rows] (TFLite FULLY_CONNECTED weights), columns `from`..`to` only. */
function fcWeights(values: Float32Array, rows: number, cols: number, from = 0, to = cols): Float32Array {
  const out = new Float32Array((to - from) * rows);
  for (let j = from; j < to; j++) for (let r = 0; r < rows; r++) out[(j - from) * rows + r] = values[r * cols + j]!;
  return out;
}

function checkSupported(ctx: TfliteConvertContext<any>, kind: CellKind, c: RnnConfig): void {
  if (ctx.g.int8) throw tfliteUnsupported(ctx.layer, `${kind.className} layers in int8`, 'export the model as float32 TFLite');
  const acts = cellActivations(kind, c);
  for (const a of [acts.act, acts.gate].filter((x): x is ActivationName => x !== undefined)) {
    if (!SUPPORTED.includes(a)) throw tfliteUnsupported(ctx.layer, `the ${a} activation in ${kind.className} layers`, `use one of ${SUPPORTED.join(', ')}`);
  }
}

/**
 * One direction over `x` [1, T, F]; returns [1, T, u] in processing order, or the last h [1, u]. With a mask [1, T]
 * a masked step keeps the state and output of the step before (tfjs's rnn()): h = prev + m·(new − prev), c alike.
 */
function direction(ctx: TfliteConvertContext<any>, cell: Cell, x: TensorRef, goBackwards: boolean, hint: string): TensorRef {
  const { g } = ctx;
  const { kind, c } = cell;
  const [, steps, features] = x.shape as [number, number, number];
  const u = c.units;
  const gu = kind.gates * u;
  const name = (n: string) => ({ name: `${hint}/${n}` });
  const acts = cellActivations(kind, c);
  const activate = (a: ActivationName, t: TensorRef, n: string): TensorRef => {
    switch (a) {
      case 'linear': return t;
      case 'tanh': return unary(g, 'tanh', t, name(n));
      case 'sigmoid': return unary(g, 'logistic', t, name(n));
      case 'relu': return unary(g, 'relu', t, name(n));
      default: { // hard_sigmoid: clip(0.2·x + 0.5, 0, 1)
        const lin = binary(g, 'add', binary(g, 'mul', t, scalarConstant(g, `${hint}/${n}/slope`, 0.2), name(`${n}/scaled`), t.shape), scalarConstant(g, `${hint}/${n}/offset`, 0.5), name(`${n}/linear`), t.shape);
        const low = binary(g, 'maximum', lin, scalarConstant(g, `${hint}/${n}/zero`, 0), name(`${n}/low`), t.shape);
        return binary(g, 'minimum', low, scalarConstant(g, `${hint}/${n}/one`, 1), name(n), t.shape);
      }
    }
  };
  const add = (a: TensorRef, b: TensorRef, n: string) => binary(g, 'add', a, b, name(n), a.shape);
  const mul = (a: TensorRef, b: TensorRef, n: string) => binary(g, 'mul', a, b, name(n), a.shape);
  const part = (t: TensorRef, k: number, n: string) => (kind.gates === 1 ? t : slice(g, t, [0, k * u], name(n), [1, u]));
  const bias = cell.bias ?? new Float32Array(gu);
  const zeros = (n: number) => new Float32Array(n);
  const rec = (h: TensorRef, from: number, to: number, n: string) =>
    fullyConnected(g, h, { values: fcWeights(cell.recurrent, u, gu, from, to), shape: [to - from, u] }, zeros(to - from), name(n), [1, to - from]);
  let h: TensorRef = { index: g.floatConstant(`${hint}/h0`, [1, u], zeros(u)), shape: [1, u] };
  let cState: TensorRef = h;
  const outs: TensorRef[] = [];
  for (let s = 0; s < steps; s++) {
    const t = goBackwards ? steps - 1 - s : s;
    const p = `t${s}`;
    const xt = reshape(g, slice(g, x, [0, t, 0], name(`${p}/x_slice`), [1, 1, features]), name(`${p}/x`), [1, features]);
    const xw = fullyConnected(g, xt, { values: fcWeights(cell.kernel, features, gu), shape: [gu, features] }, bias, name(`${p}/xw`), [1, gu]);
    const m = ctx.mask && slice(g, ctx.mask, [0, t], name(`${p}/mask`), [1, 1]);
    const keep = (prev: TensorRef, next: TensorRef, n: string) =>
      (m ? add(prev, mul(binary(g, 'sub', next, prev, name(`${p}/${n}_delta`), prev.shape), m, `${p}/${n}_masked_delta`), `${p}/${n}_masked`) : next);
    const hPrev = h;
    if (kind.className === 'SimpleRNN') {
      h = activate(acts.act, add(xw, rec(h, 0, gu, `${p}/rec`), `${p}/a`), `${p}/h`);
    } else if (kind.className === 'LSTM') {
      const z = add(xw, rec(h, 0, gu, `${p}/rec`), `${p}/z`);
      const [i, f, cand, o] = [
        activate(acts.gate!, part(z, 0, `${p}/zi`), `${p}/i`), activate(acts.gate!, part(z, 1, `${p}/zf`), `${p}/f`),
        activate(acts.act, part(z, 2, `${p}/zg`), `${p}/g`), activate(acts.gate!, part(z, 3, `${p}/zo`), `${p}/o`),
      ];
      const c = add(mul(f, cState, `${p}/fc`), mul(i, cand, `${p}/ig`), `${p}/c`);
      h = mul(o, activate(acts.act, c, `${p}/ac`), `${p}/h`);
      cState = keep(cState, c, 'c');
    } else {
      // GRU, reset_after false: z, r from x·W + h·R_zr; candidate from x·W_h + (r⊙h)·R_h.
      const zr = add(slice(g, xw, [0, 0], name(`${p}/xw_zr`), [1, 2 * u]), rec(h, 0, 2 * u, `${p}/rec_zr`), `${p}/zr_pre`);
      const z = activate(acts.gate!, part(zr, 0, `${p}/zz`), `${p}/z`);
      const r = activate(acts.gate!, part(zr, 1, `${p}/zr`), `${p}/r`);
      const cand = activate(acts.act, add(part(xw, 2, `${p}/xw_h`), rec(mul(r, h, `${p}/rh`), 2 * u, gu, `${p}/rec_h`), `${p}/zh`), `${p}/hh`);
      // h = z⊙h + (1 − z)⊙h̃ = h̃ + z⊙(h − h̃)
      h = add(cand, mul(z, binary(g, 'sub', h, cand, name(`${p}/h_minus_hh`), [1, u]), `${p}/z_diff`), `${p}/h`);
    }
    h = keep(hPrev, h, 'h');
    outs.push(h);
  }
  if (!c.returnSequences) return h;
  const steps3 = outs.map((o, s) => reshape(g, o, name(`t${s}/h_seq`), [1, 1, u]));
  return steps3.length === 1 ? steps3[0]! : concatenation(g, steps3, 1, name('sequence'), [1, steps, u]);
}

function cellOf(layer: LayerIR, kind: CellKind, c: RnnConfig, prefix: string): Cell {
  const bias = layer.weights.find((w) => w.name === `${prefix}bias`);
  return { kind, c, kernel: requireWeight(layer, `${prefix}kernel`).values, recurrent: requireWeight(layer, `${prefix}recurrent_kernel`).values, bias: bias?.values };
}

/** The layer's result under the exporter's name for it. */
function finish(ctx: TfliteConvertContext<any>, y: TensorRef): TensorRef {
  return reshape(ctx.g, y, ctx.out, ctx.outShape);
}

export function rnnTflite(kind: CellKind): TfliteConversion<RnnConfig> {
  return {
    convert(ctx) {
      const c = ctx.layer.config;
      checkSupported(ctx, kind, c);
      return finish(ctx, direction(ctx, cellOf(ctx.layer, kind, c, ''), ctx.inputs[0]!, c.goBackwards, ctx.out.name));
    },
  };
}

function merge(ctx: TfliteConvertContext<any>, mode: MergeMode, a: TensorRef, b: TensorRef, hint: string): TensorRef {
  const { g } = ctx;
  if (mode === 'concat') return concatenation(g, [a, b], a.shape.length - 1, { name: `${hint}/concat` }, [...a.shape.slice(0, -1), 2 * a.shape.at(-1)!]);
  if (mode === 'sum') return binary(g, 'add', a, b, { name: `${hint}/sum` }, a.shape);
  if (mode === 'mul') return binary(g, 'mul', a, b, { name: `${hint}/mul` }, a.shape);
  const sum = binary(g, 'add', a, b, { name: `${hint}/sum` }, a.shape);
  return binary(g, 'mul', sum, scalarConstant(g, `${hint}/half`, 0.5), { name: `${hint}/ave` }, a.shape);
}

/** Bidirectional: both copies unrolled, the backward one's sequence put back in input order, merged as tfjs does. */
export function bidirectionalTflite(kindOf: (c: BidirectionalConfig) => CellKind): TfliteConversion<BidirectionalConfig> {
  return {
    convert(ctx) {
      const inner = ctx.layer.config.layer;
      const c = inner.config;
      const kind = kindOf(ctx.layer.config);
      checkSupported(ctx, kind, c);
      const hint = ctx.out.name;
      const x = ctx.inputs[0]!;
      const fwd = direction(ctx, cellOf(ctx.layer, kind, c, `forward_${c.name}/`), x, c.goBackwards, `${hint}/forward`);
      let bwd = direction(ctx, cellOf(ctx.layer, kind, c, `backward_${c.name}/`), x, !c.goBackwards, `${hint}/backward`);
      if (c.returnSequences) {
        const steps = x.shape[1]!;
        const parts = Array.from({ length: steps }, (_, t) => slice(ctx.g, bwd, [0, steps - 1 - t, 0], { name: `${hint}/backward/step${t}` }, [1, 1, c.units]));
        bwd = steps === 1 ? parts[0]! : concatenation(ctx.g, parts, 1, { name: `${hint}/backward/input_order` }, bwd.shape);
      }
      return finish(ctx, merge(ctx, ctx.layer.config.mergeMode, fwd, bwd, hint));
    },
  };
}
