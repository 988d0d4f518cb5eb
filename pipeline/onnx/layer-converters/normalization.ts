/**
 * BatchNormalization that could not be folded into a preceding Conv/Dense (see fold-batchnorm.ts):
 * inference-mode BN is an affine map per channel, emitted as Mul + Add in whatever layout the input has.
 */
import type { LayerIR } from '../../ir.ts';
import { onnxAxis } from '../builder.ts';
import { boolOpt, numberOpt, requireWeight, unsupportedOption, type LayerConverter } from './common.ts';

/** Per-channel scale and shift of inference-mode BN, computed in double precision. */
export function batchNormAffine(layer: LayerIR): { scale: Float32Array; shift: Float32Array } {
  const epsilon = numberOpt(layer, 'epsilon', 1e-3);
  const mean = requireWeight(layer, 'moving_mean').values;
  const variance = requireWeight(layer, 'moving_variance').values;
  const gamma = boolOpt(layer, 'scale', true) ? requireWeight(layer, 'gamma').values : undefined;
  const beta = boolOpt(layer, 'center', true) ? requireWeight(layer, 'beta').values : undefined;
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    const s = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + epsilon);
    scale[c] = s;
    shift[c] = (beta ? beta[c] : 0) - mean[c] * s;
  }
  return { scale, shift };
}

/** The single Keras axis BN normalizes over (tfjs accepts an int or a one-element list). */
export function batchNormAxis(layer: LayerIR): number {
  const raw = layer.config.axis;
  const axis = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw ?? -1;
  if (typeof axis !== 'number' || !Number.isInteger(axis)) {
    throw unsupportedOption(layer, `BatchNormalization over axis ${JSON.stringify(raw)}`, 'use a single axis');
  }
  return axis;
}

const batchNormalization: LayerConverter = ({ b, layer, inputs }) => {
  const x = inputs[0];
  const rank = x.shape.length;
  const { scale, shift } = batchNormAffine(layer);
  const axis = onnxAxis(batchNormAxis(layer), rank, x.layout);
  // Broadcast the per-channel vectors against the channel axis: shape [C, 1, ..., 1].
  const dims = [scale.length, ...new Array<number>(rank - 1 - axis).fill(1)];
  const s = b.floatConst(`${layer.name}/scale`, dims, scale);
  const t = b.floatConst(`${layer.name}/shift`, dims, shift);
  const scaled = b.op('Mul', [x.name, s], {}, `${layer.name}/mul`);
  return { name: b.op('Add', [scaled, t], {}, `${layer.name}/add`), layout: x.layout };
};

export const normalizationConverters: Record<string, LayerConverter> = { BatchNormalization: batchNormalization };
