/**
 * ONNX export of the recurrent layers. Where ONNX's own op can express the cell's activations it is used — `RNN`,
 * `LSTM` (blocks reordered from Keras [i, f, c, o] to ONNX [i, o, f, c]) or `GRU` (linear_before_reset 0 is Keras's
 * reset_after false) — with `direction` forward or bidirectional. Their HardSigmoid defaults (alpha 0.2, beta 0.5)
 * are tfjs's hard_sigmoid, clip(0.2·x + 0.5, 0, 1), so no activation_alpha/beta is written. ONNX's ops are
 * time-major: the input is transposed to [T, B, F] (and reversed along T for go_backwards, which makes tfjs's
 * output order — the processing order — come out directly), the initial states are ONNX's default zeros, as in
 * tfjs. Activations the ops lack (linear, relu6, selu, swish, gelu, ...) take the unrolled form (unrolled.ts).
 */
import type { GraphBuilder } from '../../onnx/builder.ts';
import { requireWeight, type LayerConverter } from '../../onnx/converter.ts';
import type { LayerIR } from '../../ir.ts';
import { applyActivation, type ActivationName } from '../activations/functions.ts';
import { cellActivations, type CellKind } from './cells.ts';
import type { BidirectionalConfig, MergeMode, RnnConfig } from './config.ts';
import { reversed, split, timeMajor, unrolledForward, type CellTensors } from './unrolled.ts';

/** Keras activations the ONNX recurrent ops implement identically, by their ONNX names. */
const FUSED: Partial<Record<ActivationName, string>> = {
  tanh: 'Tanh', sigmoid: 'Sigmoid', hard_sigmoid: 'HardSigmoid', relu: 'Relu', elu: 'Elu', softsign: 'Softsign', softplus: 'Softplus',
};

export const fusable = (kind: CellKind, c: RnnConfig): boolean => kind.onnxActivations(c).every((a) => FUSED[a] !== undefined);

interface CellValues {
  kernel: Float32Array;
  recurrent: Float32Array;
  bias?: Float32Array;
}

function cellValues(layer: LayerIR, prefix: string): CellValues {
  const bias = layer.weights.find((w) => w.name === `${prefix}bias`);
  return { kernel: requireWeight(layer, `${prefix}kernel`).values, recurrent: requireWeight(layer, `${prefix}recurrent_kernel`).values, bias: bias?.values };
}

/** [rows, gates·units] (Keras blocks) → [gates·units, rows] with the blocks in ONNX order. */
function onnxMatrix(kind: CellKind, values: Float32Array, rows: number, units: number): Float32Array {
  const cols = kind.gates * units;
  const out = new Float32Array(cols * rows);
  kind.onnxOrder.forEach((kerasBlock, k) => {
    for (let j = 0; j < units; j++) {
      for (let r = 0; r < rows; r++) out[(k * units + j) * rows + r] = values[r * cols + kerasBlock * units + j]!;
    }
  });
  return out;
}

/** The fused op over time-major `xtm` [T, B, F]; returns Y [T, D, B, units] and Y_h [D, B, units]. */
function fusedOp(b: GraphBuilder, kind: CellKind, c: RnnConfig, xtm: string, features: number, dirs: CellValues[], hint: string): { y: string; yh: string } {
  const { units } = c;
  const g = kind.gates * units;
  const cat = (parts: Float32Array[]) => {
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let o = 0;
    for (const p of parts) out.set(p, (o += p.length) - p.length);
    return out;
  };
  const w = b.floatConst(`${hint}/W`, [dirs.length, g, features], cat(dirs.map((d) => onnxMatrix(kind, d.kernel, features, units))));
  const r = b.floatConst(`${hint}/R`, [dirs.length, g, units], cat(dirs.map((d) => onnxMatrix(kind, d.recurrent, units, units))));
  const inputs = [xtm, w, r];
  if (dirs.every((d) => d.bias)) {
    // Wb (the Keras bias, reordered) then Rb = 0, per direction.
    inputs.push(b.floatConst(`${hint}/B`, [dirs.length, 2 * g], cat(dirs.flatMap((d) => [onnxMatrix(kind, d.bias!, 1, units), new Float32Array(g)]))));
  }
  const activations = dirs.flatMap(() => kind.onnxActivations(c).map((a) => FUSED[a]!));
  const attrs = {
    hidden_size: { i: units },
    direction: { s: dirs.length === 2 ? 'bidirectional' : 'forward' },
    activations: { strings: activations },
    ...(kind.onnxOp === 'GRU' ? { linear_before_reset: { i: 0 } } : {}),
  };
  const [y, yh] = b.opMulti(kind.onnxOp, inputs, attrs, [`${hint}/Y`, `${hint}/Y_h`]);
  return { y: y!, yh: yh! };
}

/** Y [T, D, B, u] direction `d` as a Keras sequence [B, T, u], or Y_h [D, B, u] direction `d` as [B, u]. */
function direction(b: GraphBuilder, fused: { y: string; yh: string }, d: number, dirs: number, steps: number, units: number, sequences: boolean, hint: string): string {
  if (sequences) {
    const part = dirs === 1 ? fused.y : split(b, fused.y, 1, dirs, `${hint}/Y_dir`)[d]!;
    const tbu = b.op('Reshape', [part, b.int64Const(`${hint}/seq_shape_${d}`, [steps, -1, units])], {}, `${hint}/Y_${d}`);
    return b.op('Transpose', [tbu], { perm: { ints: [1, 0, 2] } }, `${hint}/sequence_${d}`);
  }
  const part = dirs === 1 ? fused.yh : split(b, fused.yh, 0, dirs, `${hint}/Y_h_dir`)[d]!;
  return b.op('Reshape', [part, b.int64Const(`${hint}/last_shape_${d}`, [-1, units])], {}, `${hint}/last_${d}`);
}

/** The unrolled form with constant weights; `activate` applies any tfjs activation. */
function unrolledConst(b: GraphBuilder, kind: CellKind, c: RnnConfig, x: string, steps: number, features: number, values: CellValues, goBackwards: boolean, hint: string, mask?: string): string {
  const g = kind.gates * c.units;
  const w: CellTensors = {
    kernel: b.floatConst(`${hint}/kernel`, [features, g], values.kernel),
    recurrent: b.floatConst(`${hint}/recurrent_kernel`, [c.units, g], values.recurrent),
    bias: values.bias && b.floatConst(`${hint}/bias`, [g], values.bias),
  };
  const acts = cellActivations(kind, c);
  const activate = (which: 'act' | 'gate', t: string, h: string) => applyActivation(b, h, { name: t, layout: 'keras', rank: 3 }, which === 'act' ? acts.act : acts.gate!).name;
  return unrolledForward(b, kind, { units: c.units, steps, features, goBackwards, returnSequences: c.returnSequences }, x, w, activate, hint, mask).output;
}

function dims(inShape: (number | null)[]): { steps: number; features: number } {
  return { steps: inShape[1] as number, features: inShape[2] as number };
}

export function rnnOnnx(kind: CellKind): LayerConverter<RnnConfig> {
  return ({ b, layer, inputs, mask }) => {
    const c = layer.config;
    const x = b.inLayout(inputs[0]!, 'keras');
    const { steps, features } = dims(x.shape);
    const values = cellValues(layer, '');
    // Masked steps (any position, not only trailing padding, so not the fused ops' sequence_lens) need the unrolled form.
    if (mask || !fusable(kind, c)) return { name: unrolledConst(b, kind, c, x.name, steps, features, values, c.goBackwards, layer.name, mask), layout: 'keras' };
    const xtm = timeMajor(b, x.name, steps, c.goBackwards, layer.name);
    const fused = fusedOp(b, kind, c, xtm, features, [values], layer.name);
    return { name: direction(b, fused, 0, 1, steps, c.units, c.returnSequences, layer.name), layout: 'keras' };
  };
}

/** tfjs's merge of the forward output and the (time-reversed) backward output. */
export function mergeDirections(b: GraphBuilder, mode: MergeMode, fwd: string, bwd: string, rank: number, hint: string): string {
  switch (mode) {
    case 'concat': return b.op('Concat', [fwd, bwd], { axis: { i: rank - 1 } }, `${hint}/concat`);
    case 'sum': return b.op('Add', [fwd, bwd], {}, `${hint}/sum`);
    case 'mul': return b.op('Mul', [fwd, bwd], {}, `${hint}/mul`);
    case 'ave': return b.op('Mul', [b.op('Add', [fwd, bwd], {}, `${hint}/sum`), b.floatConst(`${hint}/half`, [], [0.5])], {}, `${hint}/ave`);
  }
}

/**
 * Bidirectional: tfjs runs the wrapped layer (forward_<name>) and a copy with go_backwards flipped (backward_<name>),
 * reverses the copy's output sequence back to input order, and merges. ONNX's bidirectional op on the same input
 * (reversed first when the wrapped layer itself goes backwards) computes exactly those two directions, aligned.
 */
export function bidirectionalOnnx(kindOf: (c: BidirectionalConfig) => CellKind): LayerConverter<BidirectionalConfig> {
  return ({ b, layer, inputs, mask }) => {
    const inner = layer.config.layer;
    const c = inner.config;
    const kind = kindOf(layer.config);
    const x = b.inLayout(inputs[0]!, 'keras');
    const { steps, features } = dims(x.shape);
    const fwdValues = cellValues(layer, `forward_${inner.config.name}/`);
    const bwdValues = cellValues(layer, `backward_${inner.config.name}/`);
    const rank = c.returnSequences ? 3 : 2;
    let fwd: string;
    let bwd: string;
    if (!mask && fusable(kind, c)) {
      const xtm = timeMajor(b, x.name, steps, c.goBackwards, layer.name);
      const fused = fusedOp(b, kind, c, xtm, features, [fwdValues, bwdValues], layer.name);
      fwd = direction(b, fused, 0, 2, steps, c.units, c.returnSequences, layer.name);
      bwd = direction(b, fused, 1, 2, steps, c.units, c.returnSequences, layer.name);
    } else {
      fwd = unrolledConst(b, kind, c, x.name, steps, features, fwdValues, c.goBackwards, `${layer.name}/forward`, mask);
      bwd = unrolledConst(b, kind, c, x.name, steps, features, bwdValues, !c.goBackwards, `${layer.name}/backward`, mask);
      if (c.returnSequences) bwd = b.op('Gather', [bwd, reversed(b, steps, `${layer.name}/backward/reverse_idx`)], { axis: { i: 1 } }, `${layer.name}/backward/input_order`);
    }
    return { name: mergeDirections(b, layer.config.mergeMode, fwd, bwd, rank, layer.name), layout: 'keras' };
  };
}
