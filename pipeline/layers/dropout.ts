/**
 * The dropout and noise family: Dropout, SpatialDropout1D/2D, GaussianNoise, GaussianDropout, AlphaDropout. All are
 * the identity at inference (the ONNX export passes their input through) and keep channels. Dropout trains on ORT
 * as inverted dropout with a seeded mask fed as a graph input: the mask already holds 0 or 1/(1 − rate), as
 * tf.dropout scales. tfjs has no SpatialDropout2D; it is here for Keras models.
 */
import { tfliteIdentity } from '../formats/tflite/converter.ts';
import type { LayerConverter } from '../onnx/converter.ts';
import { mul } from '../train/ort/ops.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import { badValue, custom, int, num, optional } from './config.ts';
import { noWeights, passChannels, sameShape } from './shared.ts';
import { defineLayer, type LayerConfig } from './types.ts';

export interface DropoutConfig extends LayerConfig {
  rate: number;
  /** Keras noise_shape (batch first); undefined: the input's. */
  noiseShape: (number | null)[] | undefined;
  seed: number | undefined;
}

export interface GaussianNoiseConfig extends LayerConfig {
  stddev: number;
}

export interface GaussianDropoutConfig extends LayerConfig {
  rate: number;
}

const noiseShape = custom<(number | null)[] | undefined>('noise_shape', (v, ctx) => {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || !v.every((d) => d === null || (typeof d === 'number' && Number.isInteger(d) && d >= 1))) {
    throw badValue(ctx, 'null or a list of positive integers and nulls', v);
  }
  return [...(v as (number | null)[])];
}, (v) => (v === undefined ? null : [...v]));

const dropoutFields = () => ({
  rate: num('rate', { min: 0, max: 1 }),
  noiseShape,
  seed: optional(int('seed', { min: 0, max: Number.MAX_SAFE_INTEGER })),
});

interface DropoutSaved {
  /** The mask in the input's layout; undefined when the layer is an identity (rate 0). */
  mask?: string;
}

const dropoutRule: LayerRule<DropoutSaved, DropoutConfig> = {
  unsupported(layer) {
    if (layer.config.noiseShape !== undefined) return 'noise_shape';
    if (!(layer.config.rate < 1)) return `rate ${layer.config.rate}`;
    return undefined;
  },
  forward({ b, layer, inputs, outShape, weights }) {
    const x = inputs[0]!;
    const rate = layer.config.rate;
    // tfjs applies dropout only for 0 < rate < 1; otherwise the layer passes its input through.
    if (rate === 0) return { pre: x, activation: { kind: 'linear' }, saved: {} };
    const keras = { name: weights.dropoutMask(layer, outShape, rate), layout: 'keras' as const, shape: outShape };
    const mask = b.inLayout(keras, x.layout).name;
    return { pre: { name: mul(b, x.name, mask, `${layer.name}/dropout`), layout: x.layout, shape: x.shape }, activation: { kind: 'linear' }, saved: { mask } };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const { mask } = forward.saved;
    const dx = mask ? mul(b, dPre, mask, `${layer.name}/grad/input`) : dPre;
    return { inputs: [{ name: dx, layout: forward.pre.layout, shape: inputs[0]!.shape }], weights: {} };
  },
};

/** Nothing to do at inference: the layer's output is its input. */
const identity: LayerConverter = ({ inputs }) => inputs[0]!;

const shared = { family: 'dropout', arity: 'one', weights: noWeights, outputShape: sameShape, channels: passChannels, onnx: identity, tflite: tfliteIdentity, masking: { kind: 'pass' } } as const;

export const dropoutLayers = {
  Dropout: defineLayer<DropoutConfig>({ ...shared, className: 'Dropout', fields: dropoutFields(), ort: dropoutRule }),
  SpatialDropout1D: defineLayer<DropoutConfig>({ ...shared, className: 'SpatialDropout1D', fields: dropoutFields(), ort: 'no ORT training rule for SpatialDropout1D' }),
  SpatialDropout2D: defineLayer<DropoutConfig>({ ...shared, className: 'SpatialDropout2D', fields: dropoutFields(), ort: 'no ORT training rule for SpatialDropout2D' }),
  GaussianNoise: defineLayer<GaussianNoiseConfig>({ ...shared, className: 'GaussianNoise', fields: { stddev: num('stddev', { min: 0 }) }, ort: 'no ORT training rule for GaussianNoise' }),
  GaussianDropout: defineLayer<GaussianDropoutConfig>({ ...shared, className: 'GaussianDropout', fields: { rate: num('rate', { min: 0, max: 1 }) }, ort: 'no ORT training rule for GaussianDropout' }),
  AlphaDropout: defineLayer<DropoutConfig>({ ...shared, className: 'AlphaDropout', fields: dropoutFields(), ort: 'no ORT training rule for AlphaDropout' }),
};
