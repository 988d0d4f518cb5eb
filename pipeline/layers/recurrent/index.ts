/**
 * The recurrent family: SimpleRNN, LSTM, GRU and the Bidirectional wrapper, as tfjs-layers 4.22 computes them
 * (config.ts lists how each key is read; cells.ts the cells).
 *
 * Input [steps, features] per sample; output [steps, units] with return_sequences, else [units]; a Bidirectional
 * doubles units under merge_mode concat. MACs per sample: steps · (features + units) · gates · units per direction
 * (the input and recurrent matmuls of every step; gates 1 / 4 / 3 for SimpleRNN / LSTM / GRU).
 *
 * Pruning removes hidden units. Unit j of a cell with g gate blocks owns column j of every block — columns
 * {j, u+j, …, (g−1)u+j} of kernel, recurrent_kernel and bias — and row j of recurrent_kernel (what h_j feeds into the
 * next step); its consumers' input j (a Dense's kernel row, the next recurrent layer's kernel row, a Flatten's
 * per-step blocks) follows through the usual channel bindings. A Bidirectional's forward and backward unit j go
 * together (tfjs's wrapper has one `units` for both directions). A recurrent output that is a model output is
 * blocked like any other.
 */
import type { LayerIR } from '../../ir.ts';
import { rewrite } from '../layer.ts';
import { inputOfRank } from '../shared.ts';
import { defineLayer, type ChannelContext, type LayerClass, type Shape, type WeightSpec } from '../types.ts';
import { CELLS, cellMacs, cellWeights, type CellKind } from './cells.ts';
import { checkRecurrent, gatedFields, mergeMode, simpleRnnFields, wrappedLayer, type BidirectionalConfig, type GatedConfig, type RnnClassName, type RnnConfig, type SimpleRNNConfig } from './config.ts';
import { bidirectionalOnnx, rnnOnnx } from './onnx.ts';
import { bidirectionalTflite, rnnTflite } from './tflite.ts';
import { bidirectionalRule, rnnRule } from './train.ts';

/** `atoms` laid end to end `times` times: unit j's columns in each gate block. */
function tile(atoms: Int32Array, times: number): Int32Array {
  const out = new Int32Array(atoms.length * times);
  for (let k = 0; k < times; k++) out.set(atoms, k * atoms.length);
  return out;
}

/** Hidden units as pruning classes: each binds its gate columns and recurrent row in every cell `prefixes` names. */
function unitChannels(ctx: ChannelContext<any>, kind: CellKind, units: number, prefixes: string[]): Int32Array {
  const input = ctx.input();
  const atoms = ctx.fresh(units, { producer: true });
  const blocks = tile(atoms, kind.gates);
  for (const p of prefixes) {
    ctx.bind(`${p}kernel`, 0, input, 'in');
    ctx.bind(`${p}kernel`, 1, blocks, 'out');
    // Row j of the recurrent kernel is what unit j feeds back: it belongs to unit j like its own columns do.
    ctx.bind(`${p}recurrent_kernel`, 0, atoms, 'out');
    ctx.bind(`${p}recurrent_kernel`, 1, blocks, 'out');
    ctx.bind(`${p}bias`, 0, blocks, 'out', true);
  }
  return atoms;
}

/** Per weight: kernels are quantised per column (each gate unit's own scale); biases are not. */
const columnAxis = (_l: LayerIR, w: WeightSpec) => (/kernel$/.test(w.name) ? { shape: w.shape, axis: w.shape.length - 1 } : undefined);

/** Input features: the last axis (the rank is checked by outputShape; weight names are asked for without shapes). */
const features = (inputs: Shape[]): number => inputs[0]!.at(-1)!;

function sequenceShape(layer: LayerIR, inputs: Shape[]): { steps: number; features: number } {
  const [steps, features] = inputOfRank(layer, inputs, 2);
  return { steps: steps!, features: features! };
}

function rnnClass<C extends RnnConfig>(kind: CellKind, fields: LayerClass<C>['fields']): LayerClass<C> {
  const self: LayerClass<C> = defineLayer<C>({
    className: kind.className,
    family: 'recurrent',
    arity: 'one',
    fields,
    check: checkRecurrent(kind.className === 'GRU'),
    weights: (layer, inputs) => cellWeights(kind, layer.config, features(inputs)),
    outputShape(layer, inputs) {
      const { steps } = sequenceShape(layer, inputs);
      return layer.config.returnSequences ? [steps, layer.config.units] : [layer.config.units];
    },
    macs: (layer, inputs) => {
      const { steps, features } = sequenceShape(layer, inputs);
      return cellMacs(kind, layer.config, steps, features);
    },
    channels: (ctx) => unitChannels(ctx, kind, ctx.layer.config.units, ['']),
    withOutputChannels: (layer, units) => rewrite(self, layer, { units } as Partial<C>),
    onnx: rnnOnnx(kind) as never,
    ort: rnnRule(kind) as never,
    tflite: rnnTflite(kind) as never,
    quantizationAxis: columnAxis,
    masking: { kind: 'consume', keepsMask: (c) => c.returnSequences },
  });
  return self;
}

export const simpleRnn = rnnClass<SimpleRNNConfig>(CELLS.SimpleRNN, simpleRnnFields);
export const lstm = rnnClass<GatedConfig>(CELLS.LSTM, gatedFields);
export const gru = rnnClass<GatedConfig>(CELLS.GRU, gatedFields);

const WRAPPED = { SimpleRNN: simpleRnn, LSTM: lstm, GRU: gru } as Record<RnnClassName, LayerClass<any>>;
const kindOf = (c: BidirectionalConfig) => CELLS[c.layer.className];
const prefixes = (c: BidirectionalConfig) => [`forward_${c.layer.config.name}/`, `backward_${c.layer.config.name}/`];
const mergedWidth = (c: BidirectionalConfig) => (c.mergeMode === 'concat' ? 2 : 1) * c.layer.config.units;

export const bidirectional: LayerClass<BidirectionalConfig> = defineLayer<BidirectionalConfig>({
  className: 'Bidirectional',
  family: 'recurrent',
  arity: 'one',
  fields: { mergeMode, layer: wrappedLayer(() => WRAPPED) },
  weights: (layer, inputs) => prefixes(layer.config).flatMap((p) => cellWeights(kindOf(layer.config), layer.config.layer.config, features(inputs), p)),
  outputShape(layer, inputs) {
    const { steps } = sequenceShape(layer, inputs);
    const width = mergedWidth(layer.config);
    return layer.config.layer.config.returnSequences ? [steps, width] : [width];
  },
  macs: (layer, inputs) => {
    const { steps, features } = sequenceShape(layer, inputs);
    return 2 * cellMacs(kindOf(layer.config), layer.config.layer.config, steps, features);
  },
  channels(ctx) {
    const c = ctx.layer.config;
    const atoms = unitChannels(ctx, kindOf(c), c.layer.config.units, prefixes(c));
    return c.mergeMode === 'concat' ? tile(atoms, 2) : atoms;
  },
  withOutputChannels(layer, units) {
    const inner = layer.config.layer;
    const cls = WRAPPED[inner.className];
    const resized = rewrite(cls, { name: inner.config.name, className: inner.className, config: inner.config, keras: inner.keras, inputs: [], weights: [] }, { units });
    return rewrite(bidirectional, layer, { layer: { ...inner, keras: resized.keras, config: resized.config } });
  },
  onnx: bidirectionalOnnx(kindOf),
  ort: bidirectionalRule(kindOf),
  tflite: bidirectionalTflite(kindOf),
  quantizationAxis: columnAxis,
  masking: { kind: 'consume', keepsMask: (c) => c.layer.config.returnSequences },
});

export const recurrentLayers = { SimpleRNN: simpleRnn, LSTM: lstm, GRU: gru, Bidirectional: bidirectional };
