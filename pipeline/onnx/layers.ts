/**
 * The layer converters, one table keyed by Keras class name. A class missing here fails the export with
 * a one-line error naming the layer and listing what is supported — never a guessed graph.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR } from '../ir.ts';
import { activationConverters } from './layer-converters/activations.ts';
import type { LayerConverter } from './layer-converters/common.ts';
import { convConverters } from './layer-converters/conv.ts';
import { denseConverters } from './layer-converters/dense.ts';
import { mergeConverters } from './layer-converters/merge.ts';
import { normalizationConverters } from './layer-converters/normalization.ts';
import { poolingConverters } from './layer-converters/pooling.ts';
import { reshapingConverters } from './layer-converters/reshaping.ts';

export const LAYER_CONVERTERS: Readonly<Record<string, LayerConverter>> = {
  ...convConverters,
  ...denseConverters,
  ...normalizationConverters,
  ...activationConverters,
  ...poolingConverters,
  ...reshapingConverters,
  ...mergeConverters,
};

/** Every class the ONNX export handles; InputLayer becomes a graph input rather than a node. */
export const SUPPORTED_LAYER_CLASSES: readonly string[] = ['InputLayer', ...Object.keys(LAYER_CONVERTERS)].sort();

export function unsupportedLayer(layer: LayerIR): SlimnetError {
  return new SlimnetError(
    'LAYER_UNSUPPORTED',
    `layer "${layer.name}" (${layer.className})`,
    `ONNX export does not support ${layer.className} layers`,
    `supported: ${SUPPORTED_LAYER_CLASSES.join(', ')}`,
  );
}

export function converterFor(layer: LayerIR): LayerConverter {
  const converter = Object.hasOwn(LAYER_CONVERTERS, layer.className) ? LAYER_CONVERTERS[layer.className] : undefined;
  if (!converter) throw unsupportedLayer(layer);
  return converter;
}
