/**
 * Backpropagation through time over an unrolled recurrent layer (unrolled.ts), as ONNX ops. Steps are walked from
 * the last to the first; each step turns the gradient of its output h (from the layer's output and from the next
 * step) — and for LSTM of its cell state c — into the gradient of its gate pre-activations `dz` [1, B, gates·units]
 * and of the previous step's state. The weight gradients are then three matmuls over all steps at once:
 *
 *   dW = Σ_t x_tᵀ·dz_t      db = Σ_t Σ_batch dz_t      dR = Σ_t h_{t−1}ᵀ·dz_t      dx_t = dz_t·Wᵀ
 *
 * (GRU: dR = [Σ h_{t−1}ᵀ·dz_{z,r} | Σ (r⊙h_{t−1})ᵀ·dz_h], its candidate's recurrent matmul reading r⊙h.)
 * Activation gradients are the training activations' own (layers/activations/functions.ts), so they follow tfjs's.
 */
import type { GraphBuilder, TensorRef } from '../../onnx/builder.ts';
import { reduceSum, reshape, transpose } from '../../train/ort/ops.ts';
import { activationBackward, type Activation } from '../activations/functions.ts';
import { reversed, split, splitSizes, type UnrolledRun } from './unrolled.ts';

export interface CellActivations {
  act: Activation;
  gate?: Activation;
}

export interface BpttResult {
  /** Gradient of the layer input [B, T, F] (Keras layout, input order), when asked for. */
  dx?: string;
  kernel: string;
  recurrent: string;
  bias: string;
}

const ref = (name: string): TensorRef => ({ name, layout: 'keras', shape: [1, null, null] });

/** `dOut` is the gradient of run.output (same shape). */
export function bptt(b: GraphBuilder, run: UnrolledRun, acts: CellActivations, dOut: string, needInput: boolean, hint: string): BpttResult {
  const { kind, units, steps, tensors, w } = run;
  const mul = (x: string, y: string, n: string) => b.op('Mul', [x, y], {}, n);
  const back = (act: Activation, x: string, y: string, dy: string, n: string) => activationBackward(b, act, ref(x), ref(y), dy, n);
  // Per-step gradients arriving from the layer output.
  const fromOutput: (string | undefined)[] = new Array(steps).fill(undefined);
  if (run.returnSequences) {
    const dtm = b.op('Transpose', [dOut], { perm: { ints: [1, 0, 2] } }, `${hint}/d_time_major`);
    split(b, dtm, 0, steps, `${hint}/d_out_t`).forEach((d, s) => (fromOutput[s] = d));
  } else {
    fromOutput[steps - 1] = reshape(b, dOut, [1, -1, units], `${hint}/d_last`);
  }
  const rT = kind.className === 'GRU' ? undefined : transpose(b, w.recurrent, [1, 0], `${hint}/recurrent_t`);
  let rzrT: string | undefined;
  let rhT: string | undefined;
  if (kind.className === 'GRU') {
    const [rzr, rh] = splitSizes(b, w.recurrent, 1, [2 * units, units], `${hint}/d_rec_split`);
    rzrT = transpose(b, rzr!, [1, 0], `${hint}/rec_zr_t`);
    rhT = transpose(b, rh!, [1, 0], `${hint}/rec_h_t`);
  }
  const dz: string[] = new Array(steps);
  const dzr: string[] = new Array(steps); // GRU: [dz_z, dz_r] per step
  const dzh: string[] = new Array(steps); // GRU: dz_h per step
  let dhNext: string | undefined;
  let dcNext: string | undefined;
  for (let s = steps - 1; s >= 0; s--) {
    const t = tensors[s]!;
    const h = `${hint}/t${s}`;
    const parts = [fromOutput[s], dhNext].filter((p): p is string => p !== undefined);
    const dh = parts.length === 1 ? parts[0]! : b.op('Add', parts, {}, `${h}/dh`);
    const first = s === 0; // its previous state is the zero initial state: no gradient needed
    if (kind.className === 'SimpleRNN') {
      dz[s] = back(acts.act, t.a!, t.h!, dh, `${h}/da`);
      if (!first) dhNext = b.op('MatMul', [dz[s]!, rT!], {}, `${h}/dh_prev`);
    } else if (kind.className === 'LSTM') {
      const gate = acts.gate!;
      const dO = mul(dh, t.ac!, `${h}/do`);
      let dc = back(acts.act, t.c!, t.ac!, mul(dh, t.o!, `${h}/dac`), `${h}/dc_act`);
      if (dcNext) dc = b.op('Add', [dc, dcNext], {}, `${h}/dc`);
      const dzi = back(gate, t.zi!, t.i!, mul(dc, t.g!, `${h}/di`), `${h}/dzi`);
      const dzf = back(gate, t.zf!, t.f!, mul(dc, t.cPrev!, `${h}/df`), `${h}/dzf`);
      const dzg = back(acts.act, t.zg!, t.g!, mul(dc, t.i!, `${h}/dg`), `${h}/dzg`);
      const dzo = back(gate, t.zo!, t.o!, dO, `${h}/dzo`);
      dz[s] = b.op('Concat', [dzi, dzf, dzg, dzo], { axis: { i: 2 } }, `${h}/dz`);
      if (!first) {
        dcNext = mul(dc, t.f!, `${h}/dc_prev`);
        dhNext = b.op('MatMul', [dz[s]!, rT!], {}, `${h}/dh_prev`);
      }
    } else {
      const gate = acts.gate!;
      const dzGate = mul(dh, b.op('Sub', [t.hPrev!, t.hh!], {}, `${h}/h_prev_minus_hh`), `${h}/dz_gate`);
      dzh[s] = back(acts.act, t.zh!, t.hh!, mul(dh, t.oneMinusZ!, `${h}/dhh`), `${h}/dzh`);
      const drh = b.op('MatMul', [dzh[s]!, rhT!], {}, `${h}/drh`);
      const dzz = back(gate, t.zz!, t.z!, dzGate, `${h}/dzz`);
      const dzR = back(gate, t.zr!, t.r!, mul(drh, t.hPrev!, `${h}/dr`), `${h}/dzr`);
      dzr[s] = b.op('Concat', [dzz, dzR], { axis: { i: 2 } }, `${h}/dz_zr`);
      dz[s] = b.op('Concat', [dzz, dzR, dzh[s]!], { axis: { i: 2 } }, `${h}/dz`);
      if (!first) {
        const viaRh = mul(drh, t.r!, `${h}/dh_prev_rh`);
        const viaGates = b.op('MatMul', [dzr[s]!, rzrT!], {}, `${h}/dh_prev_gates`);
        dhNext = b.op('Sum', [mul(dh, t.z!, `${h}/dh_prev_z`), viaRh, viaGates], {}, `${h}/dh_prev`);
      }
    }
  }
  const g = kind.gates * units;
  const all = (xs: string[], n: string) => (xs.length === 1 ? xs[0]! : b.op('Concat', xs, { axis: { i: 0 } }, n));
  const rows = (x: string, width: number, n: string) => reshape(b, x, [-1, width], n);
  const dzAll = all(dz, `${hint}/dz_all`); // [T, B, g]
  const dz2 = rows(dzAll, g, `${hint}/dz_rows`);
  const kernel = b.op('Gemm', [rows(run.xtm, run.features, `${hint}/x_rows`), dz2], { transA: { i: 1 } }, `${hint}/d_kernel`);
  const bias = reduceSum(b, dz2, [0], false, `${hint}/d_bias`);
  const hPrev = rows(all(tensors.map((t) => t.hPrev!), `${hint}/h_prev_all`), units, `${hint}/h_prev_rows`);
  let recurrent: string;
  if (kind.className === 'GRU') {
    const zr = b.op('Gemm', [hPrev, rows(all(dzr, `${hint}/dz_zr_all`), 2 * units, `${hint}/dz_zr_rows`)], { transA: { i: 1 } }, `${hint}/d_rec_zr`);
    const rh = rows(all(tensors.map((t) => t.rh!), `${hint}/rh_all`), units, `${hint}/rh_rows`);
    const hPart = b.op('Gemm', [rh, rows(all(dzh, `${hint}/dz_h_all`), units, `${hint}/dz_h_rows`)], { transA: { i: 1 } }, `${hint}/d_rec_h`);
    recurrent = b.op('Concat', [zr, hPart], { axis: { i: 1 } }, `${hint}/d_recurrent`);
  } else {
    recurrent = b.op('Gemm', [hPrev, dz2], { transA: { i: 1 } }, `${hint}/d_recurrent`);
  }
  let dx: string | undefined;
  if (needInput) {
    let dxtm = b.op('MatMul', [dzAll, transpose(b, w.kernel, [1, 0], `${hint}/kernel_t`)], {}, `${hint}/dx_time_major`);
    if (run.goBackwards) dxtm = b.op('Gather', [dxtm, reversed(b, steps, `${hint}/dx_reverse_idx`)], { axis: { i: 0 } }, `${hint}/dx_input_order`);
    dx = transpose(b, dxtm, [1, 0, 2], `${hint}/dx`);
  }
  return { dx, kernel, recurrent, bias };
}
