/**
 * The embedding family: Embedding, y[..., :] = embeddings[id, :] for every integer id of its input, as tfjs-layers
 * 4.22 computes it (embeddings.ts): the input is cast to int32 first (float ids, as tfjs feeds them, truncate toward
 * zero), the table is `embeddings` [input_dim, output_dim], and the output is the input's shape plus output_dim.
 * embeddings_initializer/regularizer/constraint only matter while training from scratch.
 *
 * - MACs 0: a gather moves values, it multiplies nothing.
 * - Pruning: output_dim is the layer's own output channels (column j of the table is channel j), prunable with the
 *   consumers that read them (a recurrent layer's kernel rows, a Dense's).
 * - Quantisation: per row (one scale per token's vector): a lookup reads whole rows, and rows of rare and frequent
 *   tokens differ in range.
 * - ONNX: Cast (float ids → int64) + Gather. TFLite (float32): CAST + GATHER; int8 TFLite would quantise the ids at the
 *   graph input, so it is refused in one line. ORT training: Gather forward; the table's gradient is the output
 *   gradient scattered back onto the rows that were read (ScatterND, reduction add: a repeated id sums its rows).
 * - `mask_zero`: steps whose id is 0 are masked; the recurrent layers after it skip them (graph/masks.ts says how far
 *   slimnet follows a mask, and every export computes it from these ids). Such a model fine-tunes on tfjs: the ORT
 *   recurrent rules do not skip masked steps.
 */
import { tfliteUnsupported, type TfliteConversion } from '../formats/tflite/converter.ts';
import { kernelOf } from '../formats/tflite/kernels.ts';
import { castToInt32, gatherRows } from '../formats/tflite/ops.ts';
import type { LayerIR } from '../ir.ts';
import { requireWeight } from '../onnx/converter.ts';
import { INT64 } from '../onnx/proto.ts';
import { weightConst } from '../onnx/weight-const.ts';
import { asStored } from '../train/ort/ops.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import { badValue, bool, custom, int } from './config.ts';
import { rewrite } from './layer.ts';
import { invalid } from './shared.ts';
import { defineLayer, type KerasValue, type LayerClass, type LayerConfig, type Shape } from './types.ts';

export interface EmbeddingConfig extends LayerConfig {
  inputDim: number;
  outputDim: number;
  maskZero: boolean;
  /** tfjs's input_length: the input's length per axis (null: any); undefined when absent. */
  inputLength: (number | null)[] | undefined;
}

const inputLength = custom<(number | null)[] | undefined>('input_length', (v, ctx) => {
  if (v === undefined || v === null) return undefined;
  const list = Array.isArray(v) ? v : [v];
  if (list.length === 0 || !list.every((d) => d === null || (typeof d === 'number' && Number.isInteger(d) && d >= 1 && d <= 2 ** 31 - 1))) {
    throw badValue(ctx, 'null, a positive integer, or a list of positive integers and nulls', v);
  }
  return [...(list as (number | null)[])];
}, (v): KerasValue => (v === undefined ? null : v.length === 1 ? v[0]! : [...v]));

/** tfjs's computeOutputShape: input_length must agree with the input's axes; the output adds output_dim. */
function outputShape(layer: LayerIR<EmbeddingConfig>, [input]: Shape[]): Shape {
  const { inputLength: lengths, outputDim } = layer.config;
  if (input!.length < 1) throw invalid(layer, 'needs an input of integer ids with at least one axis per sample, e.g. [steps]');
  if (lengths) {
    if (lengths.length !== input!.length) throw invalid(layer, `config.input_length [${lengths}] does not match an input of shape [${input}]`);
    lengths.forEach((d, i) => {
      if (d !== null && d !== input![i]) throw invalid(layer, `config.input_length [${lengths}] does not match an input of shape [${input}]`);
    });
  }
  return [...input!, outputDim];
}

interface EmbeddingSaved {
  /** The ids as int64, [batch, ...input]. */
  ids: string;
}

const embeddingRule: LayerRule<EmbeddingSaved, EmbeddingConfig> = {
  unsupported: (layer) => (layer.config.maskZero ? 'mask_zero (the ORT recurrent rules do not skip masked steps)' : undefined),
  forward({ b, layer, inputs, outShape, weights }) {
    const table = weights.weight('embeddings', asStored(requireWeight(layer, 'embeddings').shape));
    const ids = b.op('Cast', [b.inLayout(inputs[0]!, 'keras').name], { to: { i: INT64 } }, `${layer.name}/ids`);
    const y = b.op('Gather', [table, ids], { axis: { i: 0 } }, `${layer.name}/gather`);
    return { pre: { name: y, layout: 'keras', shape: outShape }, activation: { kind: 'linear' }, saved: { ids } };
  },
  backward({ b, layer, forward, dPre, trainable }) {
    const weights: Record<string, string> = {};
    if (trainable.has('embeddings')) {
      const h = `${layer.name}/grad`;
      const shape = requireWeight(layer, 'embeddings').shape;
      const zeros = b.op('ConstantOfShape', [b.int64Const(`${h}/table_shape`, shape)], {}, `${h}/zeros`);
      const at = b.op('Unsqueeze', [forward.saved.ids, b.int64Const(`${h}/last_axis`, [-1])], {}, `${h}/rows`);
      weights.embeddings = b.op('ScatterND', [zeros, at, dPre], { reduction: { s: 'add' } }, `${h}/embeddings`);
    }
    // Ids are not differentiable: nothing flows back to the input.
    return { inputs: [undefined], weights };
  },
};

const embeddingTflite: TfliteConversion<EmbeddingConfig> = {
  convert(ctx) {
    const { g, layer } = ctx;
    if (g.int8) throw tfliteUnsupported(layer, 'Embedding layers in int8 (the ids would be quantised at the graph input)', 'export the model as float32 TFLite');
    const ids = castToInt32(g, ctx.inputs[0]!, `${ctx.out.name}/ids`);
    return gatherRows(g, kernelOf(requireWeight(layer, 'embeddings')), ids, ctx.out, ctx.outShape);
  },
};

export const embedding: LayerClass<EmbeddingConfig> = defineLayer<EmbeddingConfig>({
  className: 'Embedding',
  family: 'embedding',
  arity: 'one',
  fields: { inputDim: int('input_dim'), outputDim: int('output_dim'), maskZero: bool('mask_zero', false), inputLength },
  weights: (layer) => [{ name: 'embeddings', shape: [layer.config.inputDim, layer.config.outputDim] }],
  makesMask: (config) => config.maskZero,
  outputShape,
  channels(ctx) {
    // The ids carry no channels; the layer's own are the table's columns.
    const out = ctx.fresh(ctx.layer.config.outputDim, { producer: true });
    ctx.bind('embeddings', 1, out, 'out');
    return out;
  },
  withOutputChannels: (layer, outputDim) => rewrite(embedding, layer, { outputDim }),
  quantizationAxis: (_layer, w) => (w.name === 'embeddings' ? { shape: w.shape, axis: 0 } : undefined),
  onnx({ b, layer, inputs }) {
    const table = weightConst(b, `${layer.name}/embeddings`, requireWeight(layer, 'embeddings'));
    const ids = b.op('Cast', [b.inLayout(inputs[0]!, 'keras').name], { to: { i: INT64 } }, `${layer.name}/ids`);
    return { name: b.op('Gather', [table, ids], { axis: { i: 0 } }, `${layer.name}/gather`), layout: 'keras' };
  },
  ort: embeddingRule,
  tflite: embeddingTflite,
  indexInput: true,
});

export const embeddingLayers = { Embedding: embedding };
