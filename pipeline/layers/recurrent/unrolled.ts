/**
 * A recurrent layer unrolled over its (fixed) time steps into plain ONNX ops: MatMul, Add, Mul, Split, Concat and
 * the activations. The training graph uses it (onnxruntime has no gradient for the fused RNN ops, so the reverse
 * pass in bptt.ts walks these steps back), and the ONNX export uses it for activations the fused ops lack.
 *
 * Time-major throughout: x becomes [T, B, F] (reversed along T for go_backwards, as tfjs iterates), x·W + b is one
 * MatMul for all steps, split into T slices [1, B, gates·units]; states are [1, B, units] and start at zero (tfjs's
 * initial state), so every step has the same form.
 */
import type { GraphBuilder } from '../../onnx/builder.ts';
import type { CellKind } from './cells.ts';

/** Applies the cell's `act` or `gate` activation to tensor `x` (shape [1, B, units]); returns the output's name. */
export type Activate = (which: 'act' | 'gate', x: string, hint: string) => string;

export interface CellTensors {
  kernel: string;
  recurrent: string;
  bias?: string;
}

/** What the reverse pass reads of one step (all [1, B, units] unless said). */
export type StepTensors = Record<string, string>;

export interface UnrolledRun {
  kind: CellKind;
  units: number;
  steps: number;
  features: number;
  goBackwards: boolean;
  returnSequences: boolean;
  /** The input, time-major and in processing order: [T, B, F]. */
  xtm: string;
  w: CellTensors;
  /** Per step: hPrev, h, and the cell's intermediates (see stepForward). */
  tensors: StepTensors[];
  /** The layer's output in Keras layout: [B, T, units] (processing order, as tfjs returns it) or [B, units]. */
  output: string;
}

/** Int64 indices T−1 … 0, for reversing a time axis with Gather. */
export function reversed(b: GraphBuilder, steps: number, hint: string): string {
  return b.int64Const(hint, Array.from({ length: steps }, (_, i) => steps - 1 - i));
}

/** `x` split into `parts` equal pieces along `axis` (one piece: x itself). */
export function split(b: GraphBuilder, x: string, axis: number, parts: number, hint: string): string[] {
  if (parts === 1) return [x];
  return b.opMulti('Split', [x], { axis: { i: axis } }, Array.from({ length: parts }, (_, i) => `${hint}_${i}`));
}

/** `x` split along `axis` into pieces of the given sizes (opset 13+: sizes as an input). */
export function splitSizes(b: GraphBuilder, x: string, axis: number, sizes: number[], hint: string): string[] {
  return b.opMulti('Split', [x, b.int64Const(`${hint}/sizes`, sizes)], { axis: { i: axis } }, sizes.map((_, i) => `${hint}_${i}`));
}

/**
 * The mask [B, T] (1 where a step counts, 0 where it is masked) as one [1, B, 1] slice per step, in processing order
 * (reversed for go_backwards, as tfjs reverses the mask with the inputs).
 */
function stepMasks(b: GraphBuilder, mask: string, steps: number, goBackwards: boolean, hint: string): string[] {
  let tm = b.op('Unsqueeze', [b.op('Transpose', [mask], { perm: { ints: [1, 0] } }, `${hint}/time_major`), b.int64Const(`${hint}/last_axis`, [2])], {}, `${hint}/steps`);
  if (goBackwards) tm = b.op('Gather', [tm, reversed(b, steps, `${hint}/reverse_idx`)], { axis: { i: 0 } }, `${hint}/reversed`);
  return split(b, tm, 0, steps, `${hint}/t`);
}

/** Zeros of shape [1, B, units], B taken from the time-major input [T, B, F]. */
function zeroState(b: GraphBuilder, xtm: string, units: number, hint: string): string {
  const batch = b.op('Gather', [b.op('Shape', [xtm], {}, `${hint}/shape`), b.int64Const(`${hint}/batch_axis`, [1])], { axis: { i: 0 } }, `${hint}/batch`);
  const shape = b.op('Concat', [b.int64Const(`${hint}/one`, [1]), batch, b.int64Const(`${hint}/units`, [units])], { axis: { i: 0 } }, `${hint}/dims`);
  return b.op('ConstantOfShape', [shape], {}, hint);
}

/** x [B, T, F] (Keras layout) → [T, B, F] in processing order. */
export function timeMajor(b: GraphBuilder, x: string, steps: number, goBackwards: boolean, hint: string): string {
  const xtm = b.op('Transpose', [x], { perm: { ints: [1, 0, 2] } }, `${hint}/time_major`);
  return goBackwards ? b.op('Gather', [xtm, reversed(b, steps, `${hint}/reverse_idx`)], { axis: { i: 0 } }, `${hint}/reversed`) : xtm;
}

/** One step's ops; returns the step's tensors (h among them). */
function stepForward(b: GraphBuilder, kind: CellKind, units: number, xw: string, hPrev: string, cPrev: string | undefined, w: { recurrent: string; rzr?: string; rh?: string }, activate: Activate, h: string): StepTensors {
  const add = (x: string, y: string, n: string) => b.op('Add', [x, y], {}, `${h}/${n}`);
  const mul = (x: string, y: string, n: string) => b.op('Mul', [x, y], {}, `${h}/${n}`);
  if (kind.className === 'SimpleRNN') {
    const a = add(xw, b.op('MatMul', [hPrev, w.recurrent], {}, `${h}/rec`), 'a');
    return { hPrev, a, h: activate('act', a, `${h}/h`) };
  }
  if (kind.className === 'LSTM') {
    const z = add(xw, b.op('MatMul', [hPrev, w.recurrent], {}, `${h}/rec`), 'z');
    const [zi, zf, zg, zo] = split(b, z, 2, 4, `${h}/z`) as [string, string, string, string];
    const i = activate('gate', zi, `${h}/i`);
    const f = activate('gate', zf, `${h}/f`);
    const g = activate('act', zg, `${h}/g`);
    const o = activate('gate', zo, `${h}/o`);
    const c = add(mul(f, cPrev!, 'fc'), mul(i, g, 'ig'), 'c');
    const ac = activate('act', c, `${h}/ac`);
    return { hPrev, cPrev: cPrev!, zi, zf, zg, zo, i, f, g, o, c, ac, h: mul(o, ac, 'h') };
  }
  // GRU, reset_after false
  const [xz, xr, xh] = split(b, xw, 2, 3, `${h}/xw`) as [string, string, string];
  const [hz, hr] = split(b, b.op('MatMul', [hPrev, w.rzr!], {}, `${h}/rec_zr`), 2, 2, `${h}/rec`) as [string, string];
  const zz = add(xz, hz, 'zz');
  const zr = add(xr, hr, 'zr');
  const z = activate('gate', zz, `${h}/z`);
  const r = activate('gate', zr, `${h}/r`);
  const rh = mul(r, hPrev, 'rh');
  const zh = add(xh, b.op('MatMul', [rh, w.rh!], {}, `${h}/rec_h`), 'zh');
  const hh = activate('act', zh, `${h}/hh`);
  const oneMinusZ = b.op('Sub', [b.floatConst(`${h}/one`, [], [1]), z], {}, `${h}/one_minus_z`);
  return { hPrev, zz, zr, z, r, rh, zh, hh, oneMinusZ, h: add(mul(z, hPrev, 'zh_prev'), mul(oneMinusZ, hh, 'z_hh'), 'h') };
}

/**
 * The layer over all `steps` steps. `x` is [B, T, F] in Keras layout; `w` the kernel, recurrent kernel and bias
 * tensors as stored (Keras block order).
 */
export function unrolledForward(
  b: GraphBuilder, kind: CellKind, opts: { units: number; steps: number; features: number; goBackwards: boolean; returnSequences: boolean },
  x: string, w: CellTensors, activate: Activate, hint: string, mask?: string,
): UnrolledRun {
  const { units, steps } = opts;
  const xtm = timeMajor(b, x, steps, opts.goBackwards, hint);
  let xw = b.op('MatMul', [xtm, w.kernel], {}, `${hint}/xw`);
  if (w.bias) xw = b.op('Add', [xw, w.bias], {}, `${hint}/xw_bias`);
  const slices = split(b, xw, 0, steps, `${hint}/xw_t`);
  const rec: { recurrent: string; rzr?: string; rh?: string } = { recurrent: w.recurrent };
  if (kind.className === 'GRU') [rec.rzr, rec.rh] = splitSizes(b, w.recurrent, 1, [2 * units, units], `${hint}/rec_split`);
  const zeros = zeroState(b, xtm, units, `${hint}/zero_state`);
  const tensors: StepTensors[] = [];
  let hPrev = zeros;
  let cPrev = kind.className === 'LSTM' ? zeros : undefined;
  const masks = mask === undefined ? undefined : stepMasks(b, mask, steps, opts.goBackwards, `${hint}/mask`);
  const hs: string[] = [];
  for (let s = 0; s < steps; s++) {
    const t = stepForward(b, kind, units, slices[s]!, hPrev, cPrev, rec, activate, `${hint}/t${s}`);
    tensors.push(t);
    // A masked step keeps the state (and output) of the step before, as tfjs's rnn() does: prev + m·(new − prev).
    const keep = (prev: string, next: string, n: string) => (masks ? b.op('Add', [prev, b.op('Mul', [masks[s]!, b.op('Sub', [next, prev], {}, `${hint}/t${s}/${n}_delta`)], {}, `${hint}/t${s}/${n}_masked_delta`)], {}, `${hint}/t${s}/${n}_masked`) : next);
    hPrev = keep(hPrev, t.h!, 'h');
    cPrev = t.c === undefined ? undefined : keep(cPrev!, t.c, 'c');
    hs.push(hPrev);
  }
  const output = opts.returnSequences
    ? b.op('Transpose', [steps === 1 ? hs[0]! : b.op('Concat', hs, { axis: { i: 0 } }, `${hint}/h_all`)], { perm: { ints: [1, 0, 2] } }, `${hint}/sequence`)
    : b.op('Reshape', [hPrev, b.int64Const(`${hint}/last_shape`, [-1, units])], {}, `${hint}/last`);
  return { kind, ...opts, xtm, w, tensors, output };
}
