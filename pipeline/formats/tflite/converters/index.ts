/**
 * The TFLite layer converters, one table keyed by Keras class name (until the layer-family registry takes them). A
 * class missing here fails the export with a one-line error naming the layer — never a guessed graph.
 */
import { SlimnetError } from '../../../errors.ts';
import type { LayerIR } from '../../../ir.ts';
import { activationConverters } from './activations.ts';
import type { TfliteLayerConverter } from './common.ts';
import { convConverters } from './conv.ts';
import { denseConverters } from './dense.ts';
import { mergeConverters } from './merge.ts';
import { normalizationConverters } from './normalization.ts';
import { poolingConverters } from './pooling.ts';
import { reshapingConverters } from './reshaping.ts';

export const TFLITE_CONVERTERS: Readonly<Record<string, TfliteLayerConverter<any>>> = {
  ...convConverters,
  ...denseConverters,
  ...normalizationConverters,
  ...activationConverters,
  ...poolingConverters,
  ...reshapingConverters,
  ...mergeConverters,
};

/** Every class the TFLite export handles; InputLayer becomes the model input rather than an op. */
export const TFLITE_LAYER_CLASSES: readonly string[] = ['InputLayer', ...Object.keys(TFLITE_CONVERTERS)].sort();

export function tfliteConverterFor(layer: LayerIR): TfliteLayerConverter {
  const converter = Object.hasOwn(TFLITE_CONVERTERS, layer.className) ? TFLITE_CONVERTERS[layer.className] : undefined;
  if (!converter) {
    throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${layer.name}" (${layer.className})`, `TFLite export does not support ${layer.className} layers`,
      `supported: ${TFLITE_LAYER_CLASSES.join(', ')}`);
  }
  return converter;
}
