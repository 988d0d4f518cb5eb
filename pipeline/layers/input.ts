/**
 * InputLayer: the model's input. Its output channels are the data's, so the pruning analysis blocks them; the ONNX
 * export and the training graph turn it into a graph input (they never call a converter for it).
 */
import { SlimnetError } from '../errors.ts';
import { badValue, bool, custom, unsupportedValue } from './config.ts';
import { layerWhere, noWeights } from './shared.ts';
import { defineLayer, type KerasValue, type LayerConfig } from './types.ts';

export interface InputLayerConfig extends LayerConfig {
  /** Batch first (null), then the per-sample dimensions (null where the model leaves one free). */
  batchInputShape: (number | null)[];
  dtype: string;
  sparse: boolean;
}

const SHAPE_KEYS = ['batch_input_shape', 'batchInputShape', 'batch_shape'] as const;

const isDim = (d: KerasValue | undefined) => d === null || (typeof d === 'number' && Number.isInteger(d) && d > 0);

const batchInputShape = custom<(number | null)[]>(
  'batch_input_shape',
  (_v, ctx) => {
    const key = SHAPE_KEYS.find((k) => ctx.raw[k] !== undefined && ctx.raw[k] !== null) ?? 'batch_input_shape';
    const v = ctx.raw[key];
    if (!Array.isArray(v) || v.length < 2 || !v.every(isDim)) throw badValue({ ...ctx, key }, 'a list [batch, ...dims] of positive integers or nulls', v);
    return [...(v as (number | null)[])];
  },
  (v) => [...v],
);

export const inputLayer = defineLayer<InputLayerConfig>({
  className: 'InputLayer',
  family: 'input',
  arity: 'none',
  fields: {
    batchInputShape,
    dtype: custom('dtype', (v) => (typeof v === 'string' ? v : 'float32'), (v) => v),
    sparse: custom('sparse', (v, ctx) => {
      if (bool('sparse', false).read(v, ctx)) throw unsupportedValue(ctx, 'sparse inputs', 'use a dense input');
      return false;
    }, (v) => v),
  },
  weights: noWeights,
  outputShape(layer) {
    const shape = layer.config.batchInputShape.slice(1);
    if (!shape.every((d) => d !== null)) {
      throw new SlimnetError('MODEL_INVALID', layerWhere(layer), `input shape [${shape.map((d) => d ?? 'null')}] has unknown dimensions`, 'slimnet needs a fixed input shape (set every dimension but the batch)');
    }
    return shape as number[];
  },
  channels(ctx) {
    const s = ctx.outShape();
    return ctx.fresh(s[s.length - 1]!, { blocked: 'model input' });
  },
  ort: 'a model input (the training graph feeds it)',
});

export const inputLayers = { InputLayer: inputLayer };
