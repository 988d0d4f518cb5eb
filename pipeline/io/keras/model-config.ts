/**
 * A Keras model config (Keras 3's config.json, or the `model_config` attribute of a legacy .h5 written by Keras 2
 * or 3) -> the topology tfjs's model.json stores, so it goes through the same reader as a TF.js model.
 *
 * Handles Keras 3's `{module, class_name, config, registered_name, build_config}` wrapping, Sequential and
 * Functional models (nested ones flattened: flatten-models.ts), Keras 3 and Keras 2 inbound nodes, and maps every
 * layer's class and config to tfjs's (layer-classes.ts).
 */
import { SlimnetError } from '../../errors.ts';
import { isObject, type Json, type KerasContext } from './config-values.ts';
import { flattenModel, MODEL_CLASSES, type KerasLayerInfo } from './flatten-models.ts';
import { mapLayerClass } from './layer-classes.ts';

export type { KerasLayerInfo };

export interface MappedModel {
  /** tfjs model.json `modelTopology` (always a functional 'Model'). */
  topology: Json;
  /** The model's layers in Keras's `model.layers` order (the order its weights are saved in), nested models with their own. */
  layers: KerasLayerInfo[];
}

/** Maps a whole Keras model config to a tfjs topology. */
export function mapModelConfig(raw: unknown, ctx: KerasContext): MappedModel {
  if (!isObject(raw) || typeof raw.class_name !== 'string') {
    throw new SlimnetError('MODEL_INVALID', ctx.where, 'the model config has no class_name', 'the Keras model config is malformed; save the model again');
  }
  const className = raw.class_name;
  const module = typeof raw.module === 'string' ? raw.module : undefined;
  const registered = typeof raw.registered_name === 'string' ? raw.registered_name : undefined;
  if (!MODEL_CLASSES.has(className)) {
    throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `the model is a ${className}${registered && registered !== className ? ` (${registered})` : ''}, not a Sequential or Functional model`,
      'a subclassed model has no layer graph in its file: rebuild it as a Sequential or Functional model (same layers) and save again');
  }
  if (module !== undefined && !/^keras(\.|$)/.test(module)) {
    throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `the model is a subclass of ${className} (${module})`, 'rebuild it as a plain Sequential or Functional model and save again');
  }
  const flat = flattenModel(raw, ctx);
  const layers = flat.layers.map((l) => {
    const mapped = mapLayerClass(l.className, l.config, l.name, ctx, l.module, l.registeredName);
    return {
      name: l.name,
      class_name: mapped.className,
      config: mapped.config,
      inbound_nodes: l.inputs.length === 0 ? [] : [l.inputs.map((p) => [p, 0, 0, {}])],
    };
  });
  const config = isObject(raw.config) ? raw.config : {};
  return {
    topology: {
      class_name: 'Model',
      config: {
        name: typeof config.name === 'string' ? config.name : 'model',
        layers,
        input_layers: flat.inputs.map((n) => [n, 0, 0]),
        output_layers: flat.outputs.map((n) => [n, 0, 0]),
      },
    },
    layers: flat.tree,
  };
}
