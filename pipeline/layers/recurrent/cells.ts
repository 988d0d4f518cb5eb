/**
 * The three recurrent cells as data: how many gate blocks their kernels hold, in which order (Keras's and ONNX's),
 * and which activation each block takes. Kernels are [features, gates·units], recurrent kernels [units, gates·units],
 * biases [gates·units], blocks side by side along the last axis (tfjs-layers recurrent.ts):
 *
 *   SimpleRNN  [h]           h_t = act(x·W + h_{t−1}·R + b)
 *   LSTM       [i, f, c, o]  i, f, o = gate(·); c_t = f⊙c_{t−1} + i⊙act(·); h_t = o⊙act(c_t)
 *   GRU        [z, r, h]     z, r = gate(·); h̃ = act(x·W_h + b_h + (r⊙h_{t−1})·R_h); h_t = z⊙h_{t−1} + (1−z)⊙h̃
 *                            (reset_after false: the reset gate applies before the recurrent matmul)
 *
 * ONNX's LSTM orders its blocks [i, o, f, c]; its GRU [z, r, h] like Keras, with linear_before_reset = 0 being
 * exactly reset_after false; its RNN has one block. ONNX adds two biases (Wb + Rb): the Keras bias goes to Wb.
 */
import type { ActivationName } from '../activations/names.ts';
import type { GatedConfig, RnnClassName, RnnConfig } from './config.ts';

export interface CellKind {
  className: RnnClassName;
  /** Gate blocks along the kernels' last axis. */
  gates: number;
  onnxOp: 'RNN' | 'LSTM' | 'GRU';
  /** The Keras block each ONNX block takes, in ONNX order. */
  onnxOrder: number[];
  /** The `activations` ONNX lists per direction (f, g, h for LSTM; f, g for GRU; f for RNN), by Keras name. */
  onnxActivations(config: RnnConfig): ActivationName[];
}

const gate = (c: RnnConfig) => (c as GatedConfig).recurrentActivation;

export const CELLS: Record<RnnClassName, CellKind> = {
  SimpleRNN: { className: 'SimpleRNN', gates: 1, onnxOp: 'RNN', onnxOrder: [0], onnxActivations: (c) => [c.activation] },
  LSTM: { className: 'LSTM', gates: 4, onnxOp: 'LSTM', onnxOrder: [0, 3, 1, 2], onnxActivations: (c) => [gate(c), c.activation, c.activation] },
  GRU: { className: 'GRU', gates: 3, onnxOp: 'GRU', onnxOrder: [0, 1, 2], onnxActivations: (c) => [gate(c), c.activation] },
};

/** The activations a cell applies: `act` on candidates and outputs, `gate` on gates (SimpleRNN has none). */
export function cellActivations(kind: CellKind, c: RnnConfig): { act: ActivationName; gate?: ActivationName } {
  return kind.gates === 1 ? { act: c.activation } : { act: c.activation, gate: gate(c) };
}

/** Weight names and shapes of one cell for `features` input features. */
export function cellWeights(kind: CellKind, c: RnnConfig, features: number, prefix = ''): { name: string; shape: number[] }[] {
  const g = kind.gates * c.units;
  return [
    { name: `${prefix}kernel`, shape: [features, g] },
    { name: `${prefix}recurrent_kernel`, shape: [c.units, g] },
    ...(c.useBias ? [{ name: `${prefix}bias`, shape: [g] }] : []),
  ];
}

/**
 * MACs of one direction over `steps` time steps: per step, the input matmul (features × gates·units) and the
 * recurrent matmul (units × gates·units); gate arithmetic and activations are element-wise and count 0, as for every
 * other layer. (The GRU's candidate uses (r⊙h)·R_h, still units × units per step.)
 */
export function cellMacs(kind: CellKind, c: RnnConfig, steps: number, features: number): number {
  return steps * (features + c.units) * kind.gates * c.units;
}
