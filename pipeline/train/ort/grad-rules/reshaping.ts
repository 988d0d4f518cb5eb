/**
 * Flatten (Keras element order: its input is brought to NHWC first, so a following Dense's weights apply as
 * stored), Dropout (inverted dropout with a seeded mask fed as a graph input: the mask already holds 0 or
 * 1/(1 − rate), as tf.dropout scales), and the activation layers (Activation, ReLU, Softmax).
 */
import { numberOpt, stringOpt } from '../../../onnx/layer-converters/common.ts';
import { activationByName, type Activation } from './activations.ts';
import { mul, reshape } from './ops.ts';
import type { LayerRule } from './types.ts';

const flatten: LayerRule<null> = {
  unsupported(layer, inShapes) {
    if (stringOpt(layer, 'data_format', 'channels_last') !== 'channels_last') return 'data_format channels_first';
    if (inShapes[0].slice(1).some((d) => d === null)) return `input shape [${inShapes[0]}] (needs fixed sizes)`;
    return undefined;
  },
  forward({ b, layer, inputs, outShape }) {
    const x = b.inLayout(inputs[0], 'keras');
    const y = b.op('Flatten', [x.name], { axis: { i: 1 } }, `${layer.name}/flatten`);
    return { pre: { name: y, layout: 'keras', shape: outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ b, layer, inputs, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const shape = inputs[0].shape.slice(1) as number[];
    const dx = reshape(b, dPre, [-1, ...shape], `${layer.name}/grad/input`);
    return { inputs: [{ name: dx, layout: 'keras', shape: inputs[0].shape }], weights: {} };
  },
};

interface DropoutSaved {
  /** The mask in the input's layout; undefined when the layer is an identity (rate 0). */
  mask?: string;
}

const dropout: LayerRule<DropoutSaved> = {
  unsupported(layer) {
    const noise = layer.config.noise_shape;
    if (noise !== undefined && noise !== null) return 'noise_shape';
    const rate = numberOpt(layer, 'rate', 0);
    if (!(rate >= 0 && rate < 1)) return `rate ${rate}`;
    return undefined;
  },
  forward({ b, layer, inputs, outShape, weights }) {
    const x = inputs[0];
    const rate = numberOpt(layer, 'rate', 0);
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
    return { inputs: [{ name: dx, layout: forward.pre.layout, shape: inputs[0].shape }], weights: {} };
  },
};

/** A layer that only applies an activation: the driver does the work on top of an identity. */
function activationLayer(activationOf: (layer: Parameters<typeof stringOpt>[0]) => Activation | undefined, describe: (layer: Parameters<typeof stringOpt>[0]) => string): LayerRule<null> {
  return {
    unsupported: (layer) => (activationOf(layer) ? undefined : describe(layer)),
    forward: ({ layer, inputs }) => ({ pre: inputs[0], activation: activationOf(layer)!, saved: null }),
    backward: ({ inputs, dPre, forward, needInput }) => ({
      inputs: [needInput[0] ? { name: dPre, layout: forward.pre.layout, shape: inputs[0].shape } : undefined],
      weights: {},
    }),
  };
}

/** tfjs ReLU layer: relu, capped at max_value when set. */
function reluActivation(layer: Parameters<typeof stringOpt>[0]): Activation | undefined {
  const max = layer.config.max_value;
  if (max === undefined || max === null) return { kind: 'relu' };
  return typeof max === 'number' && max > 0 ? { kind: 'relu', max } : undefined;
}

/** tfjs Softmax layer: one Keras axis, default 1 (as the ONNX export reads it). */
function softmaxActivation(layer: Parameters<typeof stringOpt>[0]): Activation | undefined {
  const raw = layer.config.axis;
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw ?? 1;
  return typeof axis === 'number' && Number.isInteger(axis) ? { kind: 'softmax', kerasAxis: axis } : undefined;
}

export const reshapingRules: Record<string, LayerRule<any>> = {
  Flatten: flatten,
  Dropout: dropout,
  Activation: activationLayer(
    (l) => activationByName(stringOpt(l, 'activation', 'linear')),
    (l) => `activation "${stringOpt(l, 'activation', 'linear')}"`,
  ),
  ReLU: activationLayer(reluActivation, (l) => `max_value ${JSON.stringify(l.config.max_value)}`),
  Softmax: activationLayer(softmaxActivation, (l) => `softmax over axis ${JSON.stringify(l.config.axis)}`),
};
