/**
 * A layer's Keras variables (positional, in Keras's order) -> the named weights tfjs stores. Keras and tfjs keep
 * the same order (trainable first: kernel, bias; gamma, beta, then moving_mean, moving_variance), so the names
 * come from the layer's class; Keras 3 calls DepthwiseConv2D's kernel `kernel`, tfjs `depthwise_kernel`, which
 * is why position, not the stored name, decides. Normalization's mean/variance become its Rescaling's config.
 */
import { SlimnetError } from '../../errors.ts';
import { weightNames } from '../../layers/registry.ts';
import type { NamedWeightValues } from '../read-model.ts';
import type { Json } from './config-values.ts';
import { finishNormalization, kerasVariableCount } from './layer-classes.ts';

export interface RawVariable {
  /** Where it was read from, for messages. */
  path: string;
  shape: number[];
  values: Float32Array;
  dtype: string;
}

/** How many variables Keras saves for a layer of this (mapped) class; 0 for weightless layers. */
export function variableCount(className: string, config: Json, layer?: string): number {
  return kerasVariableCount(className, config) ?? weightNames(className, config, layer)?.length ?? 0;
}

/** Names the variables and checks their count; updates a Normalization's config from its variables. */
export function namedWeights(layer: string, className: string, config: Json, variables: RawVariable[], where: string): NamedWeightValues[] {
  const expected = variableCount(className, config, layer);
  if (variables.length !== expected) {
    throw new SlimnetError('MODEL_INVALID', `layer "${layer}" (${className})`,
      `has ${variables.length} saved weight${variables.length === 1 ? '' : 's'} in ${where} but the layer needs ${expected}`,
      'the weights file does not match the model config; save the model again');
  }
  if (config.__normalization) {
    finishNormalization(config, variables.map((v) => v.values), layer);
    return [];
  }
  const names = weightNames(className, config, layer) ?? [];
  // A Bidirectional's variables: the forward copy's, then the backward copy's (`…/backward_<name>/…` in a legacy
  // .h5, `…/backward_layer/…` in Keras 3), whatever order the file lists them in.
  if (className === 'Bidirectional') variables = [...variables.filter((v) => !/\/backward_/.test(v.path)), ...variables.filter((v) => /\/backward_/.test(v.path))];
  return variables.map((v, i) => {
    if (v.dtype.startsWith('int') || v.dtype.startsWith('uint')) {
      throw new SlimnetError('MODEL_INVALID', `layer "${layer}" (${className})`, `weight ${names[i]} is stored as ${v.dtype} (${v.path})`, 'slimnet reads float weights; save the model unquantised');
    }
    return { fullName: `${layer}/${names[i]}`, shape: v.shape, values: v.values };
  });
}
