/**
 * A Keras model config (Keras 3's config.json, or the `model_config` attribute of a legacy .h5 written by Keras 2
 * or 3) -> the topology tfjs's model.json stores, so it goes through the same reader as a TF.js model.
 *
 * Handles: Keras 3's `{module, class_name, config, registered_name, build_config}` wrapping; Sequential with or
 * without an InputLayer (Keras 3 `build_input_shape`, Keras 2 `batch_input_shape` on the first layer);
 * Functional/Model graphs with Keras 3 inbound nodes (`{args, kwargs}` holding `__keras_tensor__` objects whose
 * `keras_history` names the producer) or Keras 2's `[[name, node, tensor, kwargs]]`; flat or nested
 * `input_layers`/`output_layers`.
 */
import { SlimnetError } from '../../errors.ts';
import { isObject, unsupported, type Json, type KerasContext } from './config-values.ts';
import { mapLayerClass } from './layer-classes.ts';

export interface KerasLayerInfo {
  name: string;
  /** The Keras class, as the weights file names it (before mapping to tfjs). */
  kerasClass: string;
}

export interface MappedModel {
  /** tfjs model.json `modelTopology`. */
  topology: Json;
  /** The model's layers in Keras's `model.layers` order (the order its weights are saved in), InputLayers excluded for Sequential. */
  layers: KerasLayerInfo[];
}

const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

interface Unwrapped {
  className: string;
  config: Json;
  module?: string;
  registeredName?: string | null;
  entry: Json;
}

function unwrap(raw: unknown, where: string, what: string): Unwrapped {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
    throw new SlimnetError('MODEL_INVALID', where, `${what} has no class_name/config`, 'the Keras model config is malformed; save the model again');
  }
  return {
    className: raw.class_name,
    config: raw.config,
    module: typeof raw.module === 'string' ? raw.module : undefined,
    registeredName: typeof raw.registered_name === 'string' ? raw.registered_name : null,
    entry: raw,
  };
}

/** Maps a whole Keras model config to a tfjs topology. */
export function mapModelConfig(raw: unknown, ctx: KerasContext): MappedModel {
  const model = unwrap(raw, ctx.where, 'the model config');
  if (!MODEL_CLASSES.has(model.className)) {
    const subclassed = model.registeredName && model.registeredName !== model.className ? ` (${model.registeredName})` : '';
    throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `the model is a ${model.className}${subclassed}, not a Sequential or Functional model`,
      'a subclassed model has no layer graph in its file: rebuild it as a Sequential or Functional model (same layers) and save again');
  }
  if (model.module !== undefined && !/^keras(\.|$)/.test(model.module) && model.className !== 'Sequential') {
    throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `the model is a subclass of ${model.className} (${model.module})`,
      'rebuild it as a plain Sequential or Functional model and save again');
  }
  return model.className === 'Sequential' ? mapSequential(model.config, ctx) : mapFunctional(model.config, ctx);
}

function mapLayerEntry(raw: unknown, index: number, ctx: KerasContext): { name: string; className: string; config: Json; kerasClass: string; entry: Json } {
  const u = unwrap(raw, ctx.where, `layer #${index}`);
  const name = typeof u.entry.name === 'string' ? u.entry.name : u.config.name;
  if (typeof name !== 'string' || name === '') {
    throw new SlimnetError('MODEL_INVALID', ctx.where, `layer #${index} (${u.className}) has no name`, 'the Keras model config is malformed; save the model again');
  }
  if (MODEL_CLASSES.has(u.className)) {
    throw unsupported(name, u.className, 'is a nested model used as a layer', 'flatten it: build one Sequential or Functional model whose layers are plain layers, then save again');
  }
  const mapped = mapLayerClass(u.className, { ...u.config, name }, name, ctx, u.module, u.registeredName);
  return { name, className: mapped.className, config: mapped.config, kerasClass: u.className, entry: u.entry };
}

function mapSequential(config: Json, ctx: KerasContext): MappedModel {
  const rawLayers = Array.isArray(config) ? config : config.layers;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) {
    throw new SlimnetError('MODEL_INVALID', ctx.where, 'the Sequential model has no layers', 'save the model after adding its layers');
  }
  const layers = rawLayers.map((raw, i) => mapLayerEntry(raw, i, ctx));
  const out = layers.map((l) => ({ class_name: l.className, config: l.config }));
  const first = layers[0]!;
  // Keras 3 keeps the input shape in build_input_shape when the model was built without an InputLayer.
  if (first.className !== 'InputLayer' && !Array.isArray(first.config.batch_input_shape)) {
    const shape = config.build_input_shape ?? (isObject(first.entry.build_config) ? first.entry.build_config.input_shape : undefined);
    if (!Array.isArray(shape)) {
      throw new SlimnetError('MODEL_INVALID', `layer "${first.name}"`, 'the Sequential model has no input shape (it was never built)',
        'build the model (call it on data, or start it with keras.Input(shape=…)) before saving');
    }
    first.config.batch_input_shape = shape;
  }
  return {
    topology: { class_name: 'Sequential', config: { name: typeof config.name === 'string' ? config.name : 'sequential', layers: out } },
    layers: layers.filter((l) => l.kerasClass !== 'InputLayer').map((l) => ({ name: l.name, kerasClass: l.kerasClass })),
  };
}

function mapFunctional(config: Json, ctx: KerasContext): MappedModel {
  if (!Array.isArray(config.layers)) throw new SlimnetError('MODEL_INVALID', ctx.where, 'the functional model config has no layers', 'save the model again');
  const layers = config.layers.map((raw, i) => {
    const l = mapLayerEntry(raw, i, ctx);
    return { ...l, inbound: inboundNodes(l.entry.inbound_nodes, l.name, l.kerasClass) };
  });
  return {
    topology: {
      class_name: 'Model',
      config: {
        name: typeof config.name === 'string' ? config.name : 'model',
        layers: layers.map((l) => ({ name: l.name, class_name: l.className, config: l.config, inbound_nodes: l.inbound })),
        input_layers: tensorList(config.input_layers, 'input_layers', ctx),
        output_layers: tensorList(config.output_layers, 'output_layers', ctx),
      },
    },
    layers: layers.map((l) => ({ name: l.name, kerasClass: l.kerasClass })),
  };
}

/** Keras 3 `{args, kwargs}` nodes and Keras 2 `[[name, node, tensor, kwargs], …]` nodes -> the Keras 2 form. */
function inboundNodes(raw: unknown, layer: string, className: string): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw new SlimnetError('MODEL_INVALID', `layer "${layer}"`, 'inbound_nodes is not a list', 'the Keras model config is malformed');
  return raw.map((node) => {
    if (Array.isArray(node)) return node;
    if (!isObject(node)) throw new SlimnetError('MODEL_INVALID', `layer "${layer}"`, `malformed inbound node ${JSON.stringify(node)}`, 'the Keras model config is malformed');
    const refs: unknown[] = [];
    const others: unknown[] = [];
    collectTensors(node.args, refs, others);
    const kwargs = isObject(node.kwargs) ? node.kwargs : {};
    for (const [key, value] of Object.entries(kwargs)) {
      const tensors: unknown[] = [];
      collectTensors(value, tensors, []);
      const harmless = value === null || value === undefined || (key === 'training' && value === false);
      if (tensors.length > 0 || !harmless) {
        throw unsupported(layer, className, `is called with ${key}=${JSON.stringify(value).slice(0, 80)}`, 'slimnet reads layers called on their inputs only; remove the extra call argument');
      }
    }
    if (others.length > 0) {
      throw unsupported(layer, className, `is called with non-tensor argument ${JSON.stringify(others[0]).slice(0, 80)}`, 'slimnet reads layers called on their inputs only');
    }
    return refs;
  });
}

function collectTensors(value: unknown, refs: unknown[], others: unknown[]): void {
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, refs, others);
  } else if (isObject(value) && value.class_name === '__keras_tensor__' && isObject(value.config)) {
    const h = value.config.keras_history;
    if (!Array.isArray(h) || typeof h[0] !== 'string') throw new SlimnetError('MODEL_INVALID', 'model config', `a tensor without keras_history: ${JSON.stringify(value).slice(0, 120)}`, 'save the model again');
    refs.push([h[0], h[1] ?? 0, h[2] ?? 0, {}]);
  } else if (value !== null && value !== undefined) {
    others.push(value);
  }
}

/** `[[name, 0, 0], …]`, a flat `[name, 0, 0]`, or a dict of them (named inputs) -> a list of refs. */
function tensorList(raw: unknown, key: string, ctx: KerasContext): unknown[] {
  if (isObject(raw)) {
    throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `the model's ${key} are a dict (named inputs/outputs)`, 'build the model with a list of inputs and outputs');
  }
  if (!Array.isArray(raw) || raw.length === 0) throw new SlimnetError('MODEL_INVALID', ctx.where, `the functional model config has no ${key}`, 'save the model again');
  return typeof raw[0] === 'string' ? [raw] : raw;
}
