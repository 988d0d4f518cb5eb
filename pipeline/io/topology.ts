/**
 * Keras topology JSON (model.json `modelTopology`) <-> the IR's layer graph (weights are handled elsewhere).
 * Reads Sequential (new `{name, layers}` and old bare-array configs) and functional 'Model'/'Functional'
 * graphs, in both the tfjs layout `{class_name, config, ...}` and the converter's `{model_config: {...}}`.
 * Always writes a functional 'Model', which stock tfjs loads for either origin.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, ModelIR } from '../ir.ts';
import { layerFromKeras } from '../layers/registry.ts';

export const DEFAULT_KERAS_VERSION = 'tfjs-layers 4.22.0';
export const DEFAULT_BACKEND = 'tensor_flow.js';

type Json = Record<string, unknown>;

export interface KerasLayerJson {
  name: string;
  class_name: string;
  config: Json;
  inbound_nodes: Array<Array<[string, number, number, Json]>>;
}

export interface KerasModelTopology {
  class_name: 'Model';
  config: {
    name: string;
    layers: KerasLayerJson[];
    input_layers: Array<[string, number, number]>;
    output_layers: Array<[string, number, number]>;
  };
  keras_version: string;
  backend: string;
}

const NESTED_MODEL_CLASSES = new Set(['Sequential', 'Model', 'Functional']);
const INPUT_SHAPE_KEYS = ['batch_input_shape', 'batchInputShape', 'batch_shape', 'input_shape', 'inputShape'];

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Parses a model.json `modelTopology` into an IR whose layers have no weights yet. `where` names the file. */
export function topologyToIR(topology: unknown, where: string): ModelIR {
  if (!isObject(topology)) {
    throw new SlimnetError('MODEL_INVALID', where, 'modelTopology is not an object', 'expected a TF.js LayersModel model.json');
  }
  // The converter nests the model under model_config; tfjs puts it at the top level.
  const model = isObject(topology.model_config) ? topology.model_config : topology;
  const kerasVersion = typeof topology.keras_version === 'string' ? topology.keras_version : undefined;
  const backend = typeof topology.backend === 'string' ? topology.backend : undefined;
  const className = model.class_name;
  let ir: ModelIR;
  if (className === 'Sequential') ir = sequentialToIR(model.config, where);
  else if (className === 'Model' || className === 'Functional') ir = functionalToIR(model.config, where);
  else {
    throw new SlimnetError(
      'MODEL_INVALID',
      where,
      `modelTopology class_name is ${JSON.stringify(className)}`,
      "expected 'Sequential', 'Model' or 'Functional' (a TF.js LayersModel, not a GraphModel)",
    );
  }
  if (kerasVersion !== undefined) ir.kerasVersion = kerasVersion;
  if (backend !== undefined) ir.backend = backend;
  return ir;
}

function layerClassAndConfig(raw: unknown, where: string, index: number): { className: string; config: Json; name: string } {
  if (!isObject(raw) || typeof raw.class_name !== 'string' || !isObject(raw.config)) {
    throw new SlimnetError('MODEL_INVALID', where, `layer #${index} has no class_name/config`, 'the model.json topology is malformed');
  }
  const name = typeof raw.name === 'string' ? raw.name : raw.config.name;
  if (typeof name !== 'string' || name === '') {
    throw new SlimnetError('MODEL_INVALID', where, `layer #${index} (${raw.class_name}) has no name`, 'every layer config needs a name');
  }
  if (!LAYER_NAME.test(name)) {
    throw new SlimnetError('MODEL_INVALID', where, `layer #${index} (${raw.class_name}) is named ${JSON.stringify(name)}, which TF.js cannot load`,
      'layer names start with a letter or digit and hold only letters, digits and - . _ /; rename the layer and save the model again');
  }
  if (NESTED_MODEL_CLASSES.has(raw.class_name)) {
    throw new SlimnetError(
      'LAYER_UNSUPPORTED',
      `layer "${name}"`,
      `is a nested ${raw.class_name} used as a layer`,
      'flatten the model so every layer is a plain layer',
    );
  }
  const config = structuredClone(raw.config);
  // The layer's name is what the graph wires by; its config (what tfjs builds the layer from) must say the same.
  if (config.name !== name) config.name = name;
  return { className: raw.class_name, config, name };
}

/** What tfjs-layers accepts as a layer (and tensor) name (tfjs-layers common.ts, isValidTensorName). */
const LAYER_NAME = /^[A-Za-z0-9][-A-Za-z0-9._/]*$/;

function uniqueName(base: string, taken: Set<string>): string {
  let name = base;
  for (let i = 1; taken.has(name); i++) name = `${base}_${i}`;
  return name;
}

function sequentialToIR(config: unknown, where: string): ModelIR {
  const rawLayers = Array.isArray(config) ? config : isObject(config) ? config.layers : undefined;
  if (!Array.isArray(rawLayers) || rawLayers.length === 0) {
    throw new SlimnetError('MODEL_INVALID', where, 'Sequential model has no layers', 'the model.json topology is malformed');
  }
  const name = isObject(config) && typeof config.name === 'string' ? config.name : 'sequential';
  const parsed = rawLayers.map((raw, i) => layerClassAndConfig(raw, where, i));
  const taken = new Set(parsed.map((p) => p.name));
  if (taken.size !== parsed.length) {
    throw new SlimnetError('MODEL_INVALID', where, 'Sequential model has duplicate layer names', 'layer names must be unique');
  }
  const layers: LayerIR[] = [];
  let rest = parsed;
  if (parsed[0].className === 'InputLayer') {
    layers.push(layerFromKeras({ name: parsed[0].name, className: 'InputLayer', keras: parsed[0].config }));
    rest = parsed.slice(1);
  } else {
    const first = parsed[0];
    const key = INPUT_SHAPE_KEYS.find((k) => Array.isArray(first.config[k]));
    if (!key) {
      throw new SlimnetError(
        'MODEL_INVALID',
        `layer "${first.name}"`,
        'the first layer of the Sequential model has no input shape',
        'save the model after building it with inputShape/batchInputShape on its first layer',
      );
    }
    const shape = first.config[key] as Array<number | null>;
    const batchShape = key === 'input_shape' || key === 'inputShape' ? [null, ...shape] : [...shape];
    const dtype = typeof first.config.dtype === 'string' ? first.config.dtype : 'float32';
    // The InputLayer now owns shape and dtype; tfjs writes a layer's dtype only alongside an input shape.
    for (const k of [...INPUT_SHAPE_KEYS, 'dtype']) delete first.config[k];
    const inputName = uniqueName(`${first.name}_input`, taken);
    layers.push(layerFromKeras({
      name: inputName,
      className: 'InputLayer',
      keras: { batch_input_shape: batchShape, dtype, sparse: false, name: inputName },
    }));
  }
  for (const p of rest) {
    if (p.className === 'InputLayer') {
      throw new SlimnetError('MODEL_INVALID', `layer "${p.name}"`, 'an InputLayer in the middle of a Sequential model', 'only the first layer may be an InputLayer');
    }
    layers.push(layerFromKeras({ name: p.name, className: p.className, keras: p.config, inputs: [layers[layers.length - 1].name] }));
  }
  return { name, layers, inputs: [layers[0].name], outputs: [layers[layers.length - 1].name] };
}

/** `[["name", 0, 0], ...]` or, as some Keras versions write for one tensor, `["name", 0, 0]`. */
function tensorRefs(raw: unknown, key: string, where: string): string[] {
  if (!Array.isArray(raw) || raw.length === 0) {
    throw new SlimnetError('MODEL_INVALID', where, `functional model config has no ${key}`, 'the model.json topology is malformed');
  }
  const refs = typeof raw[0] === 'string' ? [raw] : raw;
  return refs.map((ref) => {
    if (!Array.isArray(ref) || typeof ref[0] !== 'string') {
      throw new SlimnetError('MODEL_INVALID', where, `malformed entry in ${key}: ${JSON.stringify(ref)}`, 'expected [layerName, nodeIndex, tensorIndex]');
    }
    if ((ref[1] ?? 0) !== 0 || (ref[2] ?? 0) !== 0) {
      throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${ref[0]}"`, `${key} refers to node ${ref[1]}, tensor ${ref[2]}`, 'shared layers and multi-output layers are not supported');
    }
    return ref[0] as string;
  });
}

function inboundLayerNames(raw: unknown, name: string, className: string): string[] {
  const where = `layer "${name}"`;
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return [];
  if (!Array.isArray(raw)) throw new SlimnetError('MODEL_INVALID', where, 'inbound_nodes is not a list', 'the model.json topology is malformed');
  if (raw.length > 1) {
    throw new SlimnetError(
      'LAYER_UNSUPPORTED',
      where,
      `${className} is called ${raw.length} times (a shared layer)`,
      'slimnet needs every layer applied once; give each call its own layer',
    );
  }
  const node = raw[0];
  if (!Array.isArray(node)) {
    throw new SlimnetError('MODEL_INVALID', where, 'inbound node is not in the Keras 2 / TF.js format', 'convert the model with tensorflowjs_converter from a tf.keras (Keras 2) model');
  }
  return node.map((entry) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') {
      throw new SlimnetError('MODEL_INVALID', where, `malformed inbound node entry ${JSON.stringify(entry)}`, 'expected [layerName, nodeIndex, tensorIndex, kwargs]');
    }
    if ((entry[1] ?? 0) !== 0) {
      throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${entry[0]}"`, `is used through its call #${entry[1]} (a shared layer)`, 'slimnet needs every layer applied once');
    }
    if ((entry[2] ?? 0) !== 0) {
      throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${entry[0]}"`, `has more than one output (${name} reads output ${entry[2]})`, 'multi-output layers are not supported');
    }
    return entry[0] as string;
  });
}

function functionalToIR(config: unknown, where: string): ModelIR {
  if (!isObject(config) || !Array.isArray(config.layers)) {
    throw new SlimnetError('MODEL_INVALID', where, 'functional model config has no layers', 'the model.json topology is malformed');
  }
  const layers: LayerIR[] = config.layers.map((raw, i) => {
    const p = layerClassAndConfig(raw, where, i);
    const inputs = inboundLayerNames((raw as Json).inbound_nodes, p.name, p.className);
    if (p.className === 'InputLayer' && inputs.length > 0) {
      throw new SlimnetError('MODEL_INVALID', `layer "${p.name}"`, 'an InputLayer with inbound nodes', 'the model.json topology is malformed');
    }
    if (p.className !== 'InputLayer' && inputs.length === 0) {
      throw new SlimnetError('MODEL_INVALID', `layer "${p.name}"`, `${p.className} has no inbound node (it is never called)`, 'remove unused layers from the model');
    }
    return layerFromKeras({ name: p.name, className: p.className, keras: p.config, inputs });
  });
  const inputs = tensorRefs(config.input_layers, 'input_layers', where);
  const outputs = tensorRefs(config.output_layers, 'output_layers', where);
  const ir: ModelIR = {
    name: typeof config.name === 'string' ? config.name : 'model',
    layers: topologicalOrder(layers, where),
    inputs,
    outputs,
  };
  const byName = new Map(ir.layers.map((l) => [l.name, l]));
  for (const n of inputs) {
    if (byName.get(n)?.className !== 'InputLayer') {
      throw new SlimnetError('MODEL_INVALID', `layer "${n}"`, 'is listed in input_layers but is not an InputLayer', 'the model.json topology is malformed');
    }
  }
  for (const n of outputs) {
    if (!byName.has(n)) throw new SlimnetError('MODEL_INVALID', `layer "${n}"`, 'is listed in output_layers but does not exist', 'the model.json topology is malformed');
  }
  // A layer no output depends on is never computed: tfjs drops it (and then refuses its weights), so it is a named error here.
  const used = new Set<string>();
  const visit = (n: string): void => {
    if (used.has(n)) return;
    used.add(n);
    for (const i of byName.get(n)?.inputs ?? []) visit(i);
  };
  outputs.forEach(visit);
  const dangling = ir.layers.find((l) => !used.has(l.name));
  if (dangling) {
    throw new SlimnetError('MODEL_INVALID', `layer "${dangling.name}"`, `${dangling.className} does not lead to any of the model's outputs (${outputs.join(', ')})`,
      'the topology\'s wiring (inbound_nodes) is damaged, or the layer is unused: re-save the model');
  }
  return ir;
}

/** Stable topological sort (keeps file order where it is already valid); rejects unknown refs and cycles. */
function topologicalOrder(layers: LayerIR[], where: string): LayerIR[] {
  const byName = new Map<string, LayerIR>();
  for (const l of layers) {
    if (byName.has(l.name)) throw new SlimnetError('MODEL_INVALID', `layer "${l.name}"`, 'the layer name appears twice', 'layer names must be unique');
    byName.set(l.name, l);
  }
  for (const l of layers) {
    for (const i of l.inputs) {
      if (!byName.has(i)) throw new SlimnetError('MODEL_INVALID', `layer "${l.name}"`, `consumes unknown layer "${i}"`, 'the model.json topology is malformed');
    }
  }
  const placed = new Set<string>();
  const ordered: LayerIR[] = [];
  while (ordered.length < layers.length) {
    const next = layers.find((l) => !placed.has(l.name) && l.inputs.every((i) => placed.has(i)));
    if (!next) {
      const stuck = layers.find((l) => !placed.has(l.name))!;
      throw new SlimnetError('MODEL_INVALID', `layer "${stuck.name}"`, 'is part of a cycle', `the graph in ${where} is not a DAG`);
    }
    placed.add(next.name);
    ordered.push(next);
  }
  return ordered;
}

/** IR -> a functional 'Model' topology, the layout `model.save()` writes for functional models. */
export function irToTopology(ir: ModelIR): KerasModelTopology {
  return {
    class_name: 'Model',
    config: {
      name: ir.name,
      layers: ir.layers.map((l) => ({
        name: l.name,
        class_name: l.className,
        config: { ...structuredClone(l.keras), name: l.name },
        inbound_nodes: l.inputs.length === 0 ? [] : [l.inputs.map((i): [string, number, number, Json] => [i, 0, 0, {}])],
      })),
      input_layers: ir.inputs.map((n): [string, number, number] => [n, 0, 0]),
      output_layers: ir.outputs.map((n): [string, number, number] => [n, 0, 0]),
    },
    keras_version: ir.kerasVersion ?? DEFAULT_KERAS_VERSION,
    backend: ir.backend ?? DEFAULT_BACKEND,
  };
}
