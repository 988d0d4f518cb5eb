/**
 * A Keras model config (Sequential or Functional, possibly holding nested models used as layers — the usual
 * transfer-learning shape: a pretrained base inside a small head) flattened into one functional graph of plain
 * layers, in the Keras 2 node form tfjs's model.json uses (`[[producer, 0, 0, {}], …]` per layer).
 *
 * A nested model's InputLayers disappear (their consumers read what fed the nested model) and its consumers read
 * its output layer. A nested layer whose name is already taken is renamed `<model>_<layer>`. The layer tree is
 * kept as well, in each model's `model.layers` order: weights files are organised by it.
 */
import { SlimnetError } from '../../errors.ts';
import { isObject, unsupported, type Json, type KerasContext } from './config-values.ts';

export const MODEL_CLASSES = new Set(['Sequential', 'Functional', 'Model']);

export interface KerasLayerInfo {
  /** The layer's name in the flattened model. */
  name: string;
  /** Its name inside its own model, as the weights file may record it. */
  kerasName: string;
  /** The Keras class, as the weights file names it (before mapping to tfjs). */
  kerasClass: string;
  /** For a nested model: its own layers, in its `model.layers` order. */
  children?: KerasLayerInfo[];
}

export interface FlatLayer {
  name: string;
  className: string;
  config: Json;
  module?: string;
  registeredName?: string | null;
  /** Producer names, in call order (empty for an InputLayer). */
  inputs: string[];
  /** The entry as the file has it (build_config, …). */
  entry: Json;
}

export interface FlatModel {
  layers: FlatLayer[];
  inputs: string[];
  outputs: string[];
  /** The top model's `model.layers` (a Sequential's InputLayer excluded, as Keras does). */
  tree: KerasLayerInfo[];
}

type Ref = { name: string; node: number; tensor: number };

interface Unwrapped {
  className: string;
  config: Json;
  module?: string;
  registeredName?: string | null;
  entry: Json;
  name: string;
}

function unwrap(raw: unknown, ctx: KerasContext, what: string): Unwrapped {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !(isObject(raw.config) || Array.isArray(raw.config))) {
    throw new SlimnetError('MODEL_INVALID', ctx.where, `${what} has no class_name/config`, 'the Keras model config is malformed; save the model again');
  }
  const config = (Array.isArray(raw.config) ? { layers: raw.config } : raw.config) as Json;
  const name = typeof raw.name === 'string' ? raw.name : config.name;
  return {
    className: raw.class_name, config, entry: raw, name: typeof name === 'string' ? name : '',
    module: typeof raw.module === 'string' ? raw.module : undefined,
    registeredName: typeof raw.registered_name === 'string' ? raw.registered_name : null,
  };
}

export function flattenModel(raw: unknown, ctx: KerasContext): FlatModel {
  const model = unwrap(raw, ctx, 'the model config');
  const out: FlatLayer[] = [];
  const taken = new Set<string>();
  const level = flattenLevel(model, ctx, out, taken, undefined, true);
  return { layers: out, inputs: level.inputs, outputs: level.outputs, tree: level.tree };
}

interface Level {
  inputs: string[];
  outputs: string[];
  tree: KerasLayerInfo[];
}

function claim(name: string, prefix: string | undefined, taken: Set<string>): string {
  let flat = name;
  if (taken.has(flat) && prefix) flat = `${prefix}_${name}`;
  for (let i = 1; taken.has(flat); i++) flat = `${name}_${i}`;
  taken.add(flat);
  return flat;
}

/**
 * Flattens one model level into `out`. `fed`: for a nested model, the producers of its inputs in the outer graph
 * (its InputLayers are replaced by them).
 */
function flattenLevel(model: Unwrapped, ctx: KerasContext, out: FlatLayer[], taken: Set<string>, fed: string[] | undefined, top: boolean): Level {
  const rawLayers = model.config.layers;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) {
    throw new SlimnetError('MODEL_INVALID', top ? ctx.where : `layer "${model.name}"`, `the ${model.className} model has no layers`, 'save the model after building it');
  }
  const sequential = model.className === 'Sequential';
  const prefix = top ? undefined : model.name;
  const local = new Map<string, string[]>(); // name in this model -> flat producer name(s) of its output
  const tree: KerasLayerInfo[] = [];
  const inputs: string[] = [];
  let previous: string[] | undefined = fed && sequential ? fed : undefined;
  const entries = rawLayers.map((r, i) => unwrap(r, ctx, `layer #${i} of ${model.name || 'the model'}`));
  entries.forEach((u, i) => {
    if (!u.name) throw new SlimnetError('MODEL_INVALID', ctx.where, `layer #${i} (${u.className}) has no name`, 'the Keras model config is malformed; save the model again');
    const producers = sequential
      ? (i === 0 && u.className === 'InputLayer' ? [] : previous ?? [])
      : refsOf(u, ctx).map((ref) => resolve(ref, local, u));
    if (u.className === 'InputLayer') {
      if (fed) {
        // A nested model's input is whatever fed it outside.
        const index = sequential ? 0 : inputRefIndex(model, u.name);
        const source = fed[index];
        if (source === undefined) throw unsupported(model.name, model.className, `has more inputs than it is called with`, 'call the nested model on all its inputs');
        local.set(u.name, [source]);
        previous = [source];
        return;
      }
      const flat = claim(u.name, prefix, taken);
      out.push({ name: flat, className: u.className, config: { ...u.config, name: flat }, module: u.module, registeredName: u.registeredName, inputs: [], entry: u.entry });
      local.set(u.name, [flat]);
      inputs.push(flat);
      previous = [flat];
      if (!sequential) tree.push({ name: flat, kerasName: u.name, kerasClass: u.className });
      return;
    }
    if (MODEL_CLASSES.has(u.className)) {
      checkNestedModel(u);
      const inner = flattenLevel(u, ctx, out, taken, producers, false);
      if (inner.outputs.length !== 1) throw unsupported(u.name, u.className, `has ${inner.outputs.length} outputs`, 'slimnet reads nested models with one output');
      local.set(u.name, inner.outputs);
      previous = inner.outputs;
      tree.push({ name: u.name, kerasName: u.name, kerasClass: u.className, children: inner.tree });
      return;
    }
    const flat = claim(u.name, prefix, taken);
    out.push({ name: flat, className: u.className, config: { ...u.config, name: flat }, module: u.module, registeredName: u.registeredName, inputs: producers, entry: u.entry });
    local.set(u.name, [flat]);
    previous = [flat];
    tree.push({ name: flat, kerasName: u.name, kerasClass: u.className });
  });
  if (sequential) {
    if (inputs.length === 0 && !fed) inputs.push(...synthesizeInput(model, out, taken, ctx));
    return { inputs, outputs: previous ?? [], tree };
  }
  const outputs = tensorList(model.config.output_layers, 'output_layers', ctx).map((ref) => resolve(ref, local, { name: model.name, className: model.className } as Unwrapped));
  if (!fed) inputs.splice(0, inputs.length, ...tensorList(model.config.input_layers, 'input_layers', ctx).map((ref) => resolve(ref, local, { name: model.name, className: model.className } as Unwrapped)));
  return { inputs, outputs, tree };
}

function checkNestedModel(u: Unwrapped): void {
  if (u.module !== undefined && !/^keras(\.|$)/.test(u.module)) {
    throw unsupported(u.name, u.className, `is a nested subclassed model (${u.registeredName ?? u.module})`, 'rebuild it as a plain Sequential or Functional model and save again');
  }
  const calls = Array.isArray(u.entry.inbound_nodes) ? u.entry.inbound_nodes.length : 0;
  if (calls > 1) throw unsupported(u.name, u.className, `is called ${calls} times (a shared model)`, 'slimnet needs every layer applied once');
}

/** Where an InputLayer sits among a functional model's inputs. */
function inputRefIndex(model: Unwrapped, name: string): number {
  const raw = model.config.input_layers;
  const refs = Array.isArray(raw) && typeof raw[0] === 'string' ? [raw] : (raw as unknown[]);
  const i = Array.isArray(refs) ? refs.findIndex((r) => Array.isArray(r) && r[0] === name) : -1;
  return i < 0 ? 0 : i;
}

/** The name of the flat layer producing `ref` (a nested model's reference becomes its output layer). */
function resolve(ref: Ref, local: Map<string, string[]>, consumer: Unwrapped): string {
  const flat = local.get(ref.name);
  if (!flat) throw new SlimnetError('MODEL_INVALID', `layer "${consumer.name}"`, `consumes unknown layer "${ref.name}"`, 'the Keras model config is malformed; save the model again');
  if (flat.length === 1 && (ref.tensor ?? 0) === 0) return flat[0]!;
  const pick = flat[ref.tensor];
  if (pick === undefined) throw unsupported(ref.name, consumer.className, `has no output ${ref.tensor}`, 'multi-output layers are not supported');
  return pick;
}

/** Keras 3 `{args, kwargs}` nodes and Keras 2 `[[name, node, tensor, kwargs], …]` nodes -> producer refs. */
function refsOf(u: Unwrapped, ctx: KerasContext): Ref[] {
  const raw = u.entry.inbound_nodes;
  if (raw === undefined || raw === null || (Array.isArray(raw) && raw.length === 0)) return [];
  if (!Array.isArray(raw)) throw new SlimnetError('MODEL_INVALID', `layer "${u.name}"`, 'inbound_nodes is not a list', 'the Keras model config is malformed');
  if (raw.length > 1) {
    throw unsupported(u.name, u.className, `is called ${raw.length} times (a shared layer)`, 'slimnet needs every layer applied once; give each call its own layer');
  }
  const node = raw[0];
  const refs: Ref[] = [];
  if (Array.isArray(node)) {
    for (const e of node) {
      if (!Array.isArray(e) || typeof e[0] !== 'string') throw new SlimnetError('MODEL_INVALID', `layer "${u.name}"`, `malformed inbound node entry ${JSON.stringify(e)}`, 'the Keras model config is malformed');
      checkKwargs(u, isObject(e[3]) ? e[3] : {});
      refs.push({ name: e[0], node: Number(e[1] ?? 0), tensor: Number(e[2] ?? 0) });
    }
    return refs;
  }
  if (!isObject(node)) throw new SlimnetError('MODEL_INVALID', `layer "${u.name}"`, `malformed inbound node ${JSON.stringify(node).slice(0, 120)}`, 'the Keras model config is malformed');
  const others: unknown[] = [];
  collectTensors(node.args, refs, others, ctx);
  if (others.length > 0) throw unsupported(u.name, u.className, `is called with non-tensor argument ${JSON.stringify(others[0]).slice(0, 80)}`, 'slimnet reads layers called on their inputs only');
  checkKwargs(u, isObject(node.kwargs) ? node.kwargs : {});
  return refs;
}

function checkKwargs(u: Unwrapped, kwargs: Json): void {
  for (const [key, value] of Object.entries(kwargs)) {
    const harmless = value === null || value === undefined || (key === 'training' && value === false);
    if (!harmless) throw unsupported(u.name, u.className, `is called with ${key}=${JSON.stringify(value).slice(0, 80)}`, 'slimnet reads layers called on their inputs only; remove the extra call argument');
  }
}

function collectTensors(value: unknown, refs: Ref[], others: unknown[], ctx: KerasContext): void {
  if (Array.isArray(value)) {
    for (const v of value) collectTensors(v, refs, others, ctx);
  } else if (isObject(value) && value.class_name === '__keras_tensor__' && isObject(value.config)) {
    const h = value.config.keras_history;
    if (!Array.isArray(h) || typeof h[0] !== 'string') throw new SlimnetError('MODEL_INVALID', ctx.where, `a tensor without keras_history: ${JSON.stringify(value).slice(0, 120)}`, 'save the model again');
    refs.push({ name: h[0], node: Number(h[1] ?? 0), tensor: Number(h[2] ?? 0) });
  } else if (value !== null && value !== undefined) {
    others.push(value);
  }
}

/** `[[name, 0, 0], …]`, a flat `[name, 0, 0]`, or a dict of them (named inputs) -> refs. */
function tensorList(raw: unknown, key: string, ctx: KerasContext): Ref[] {
  if (isObject(raw)) throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `the model's ${key} are a dict (named inputs/outputs)`, 'build the model with a list of inputs and outputs');
  if (!Array.isArray(raw) || raw.length === 0) throw new SlimnetError('MODEL_INVALID', ctx.where, `the functional model config has no ${key}`, 'save the model again');
  const list = typeof raw[0] === 'string' ? [raw] : raw;
  return list.map((r) => {
    if (!Array.isArray(r) || typeof r[0] !== 'string') throw new SlimnetError('MODEL_INVALID', ctx.where, `malformed entry in ${key}: ${JSON.stringify(r)}`, 'expected [layerName, nodeIndex, tensorIndex]');
    return { name: r[0], node: Number(r[1] ?? 0), tensor: Number(r[2] ?? 0) };
  });
}

/**
 * A Sequential built without an InputLayer gets one, from the first layer's batch_input_shape (Keras 2) or the
 * model's build_input_shape (Keras 3); the first layer then no longer carries a shape of its own.
 */
function synthesizeInput(model: Unwrapped, out: FlatLayer[], taken: Set<string>, ctx: KerasContext): string[] {
  const first = out.find((l) => l.inputs.length === 0 && l.className !== 'InputLayer');
  if (!first) throw new SlimnetError('MODEL_INVALID', ctx.where, 'the Sequential model has no layers', 'save the model after adding its layers');
  const c = first.config;
  const batchShape = [c.batch_input_shape, c.batch_shape].find(Array.isArray)
    ?? (Array.isArray(c.input_shape) ? [null, ...(c.input_shape as unknown[])] : undefined)
    ?? model.config.build_input_shape
    ?? (isObject(first.entry.build_config) ? first.entry.build_config.input_shape : undefined);
  if (!Array.isArray(batchShape)) {
    throw new SlimnetError('MODEL_INVALID', `layer "${first.name}"`, 'the Sequential model has no input shape (it was never built)',
      'build the model (call it on data, or start it with keras.Input(shape=…)) before saving');
  }
  const dtype = typeof c.dtype === 'string' ? c.dtype : 'float32';
  for (const k of ['batch_input_shape', 'batch_shape', 'input_shape']) delete c[k];
  const name = claim(`${first.name}_input`, undefined, taken);
  out.splice(out.indexOf(first), 0, { name, className: 'InputLayer', config: { batch_input_shape: batchShape, dtype, sparse: false, name }, inputs: [], entry: {} });
  first.inputs = [name];
  return [name];
}
