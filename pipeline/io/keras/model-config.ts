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
import { INFERENCE_IDENTITY, mapLayerClass } from './layer-classes.ts';

export type { KerasLayerInfo };

export interface MappedModel {
  /** tfjs model.json `modelTopology` (always a functional 'Model'). */
  topology: Json;
  /** The model's layers in Keras's `model.layers` order (the order its weights are saved in), nested models with their own. */
  layers: KerasLayerInfo[];
}

/**
 * The model without the layers that are the identity at inference (RandomFlip and the other augmentation layers):
 * each reader of one reads its input instead, so what tfjs runs and every export writes is what Keras computes in
 * predict(). They hold no weights (a seed generator's state at most, never read).
 */
function withoutInferenceIdentities(flat: ReturnType<typeof flattenModel>, ctx: KerasContext): ReturnType<typeof flattenModel> {
  const alias = new Map<string, string>();
  for (const l of flat.layers) {
    if (!INFERENCE_IDENTITY.has(l.className)) continue;
    if (l.inputs.length !== 1) throw new SlimnetError('MODEL_INVALID', `layer "${l.name}" (${l.className})`, `has ${l.inputs.length} inputs`, 'an augmentation layer takes one image tensor; save the model again');
    alias.set(l.name, alias.get(l.inputs[0]!) ?? l.inputs[0]!);
    ctx.notes.push(`layer "${l.name}": ${l.className} is the identity at inference; left out`);
  }
  if (alias.size === 0) return flat;
  const resolve = (n: string) => alias.get(n) ?? n;
  return {
    ...flat,
    layers: flat.layers.filter((l) => !alias.has(l.name)).map((l) => ({ ...l, inputs: l.inputs.map(resolve) })),
    outputs: flat.outputs.map(resolve),
  };
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
  const flat = withoutInferenceIdentities(flattenModel(raw, ctx), ctx);
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
