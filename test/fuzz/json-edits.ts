/**
 * Seeded edits of a parsed JSON model description for the fuzz test — a TF.js model.json, a Keras 3 config.json
 * or a legacy .h5's model_config: keys, numbers, class names, layer config values, wiring and nesting. Each edit
 * changes the object in place and says what it did, so a failing case can be described in one line.
 */
import type { Rng } from '../../pipeline/random.ts';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonEdit = (json: any, rng: Rng) => string;

export const pick = <T = any>(rng: Rng, items: readonly T[]): T => items[rng.int(items.length)]!;

/** Every [container, key] pair of a JSON value, depth first, for picking a random spot to edit. */
function spots(value: Json, out: Array<[Record<string, Json> | Json[], string | number]> = []): typeof out {
  if (Array.isArray(value)) value.forEach((v, i) => (out.push([value, i]), spots(v, out)));
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push([value, k]), spots(v, out);
  return out;
}

/** The layer list of a TF.js modelTopology, a Keras config.json or a model_config (Sequential or functional). */
const topologyLayers = (json: any): any[] => {
  const t = json?.modelTopology?.model_config ?? json?.modelTopology ?? json;
  const layers = Array.isArray(t?.config) ? t.config : t?.config?.layers;
  return Array.isArray(layers) ? layers : [];
};

const STRANGE_NUMBERS: Json[] = [0, -1, 1, 2, 1.5, -0.5, 1e9, -1e9, 1e308, 2 ** 31, 2 ** 53, null, '3', true, [], {}];
const CLASS_NAMES = ['Dense', 'Conv2D', 'Flatten', 'MaxPooling2D', 'BatchNormalization', 'Add', 'Concatenate', 'InputLayer', 'Reshape',
  'DepthwiseConv2D', 'Activation', 'Dropout', 'LSTM', 'Lambda', 'MyCustomLayer', 'Sequential', 'Model', 'dense', '', 'GlobalAveragePooling2D'];
const CONFIG_VALUES: Record<string, Json[]> = {
  units: [0, -3, 1.5, 1e6, '8', null],
  filters: [0, -1, 2.5, 1e6, null],
  kernel_size: [0, [0, 0], [3], [3, 3, 3], [-1, 3], [99, 99], 'x', null],
  strides: [0, [0, 1], [-1, -1], [100, 100], 1.5, null],
  padding: ['same', 'valid', 'causal', 'full', 7, null],
  activation: ['relu', 'softmax', 'linear', 'gelu', 'swish', 'nonsense', 3, null],
  pool_size: [0, [0, 2], [50, 50], -2, null],
  axis: [-1, 0, 1, 3, 7, -9, null],
  rate: [-1, 1, 2, 0.5, null],
  target_shape: [[-1], [0], [7, 7], [-1, -1], null],
  batch_input_shape: [[null, 6, 6], [null, 36], [null, -6, 6, 1], [null, 6.5, 6, 1], [6, 6, 1], 'x', null, [null, 0, 6, 1]],
  batch_shape: [[null, 6, 6], [null, 36], [null, -6, 6, 1], [null, 1e9, 1e9, 1], [6, 6, 1], 'x', null],
  data_format: ['channels_first', 'channels_last', 'x'],
  use_bias: [false, true, 'yes'],
  dtype: ['float32', 'int32', 'bool', 'x'],
  epsilon: [0, -1, 1e30],
  momentum: [-1, 2],
  kernel_initializer: [null, 'zeros', { class_name: 'Nope', config: {} }, { class_name: 'GlorotUniform', config: { seed: 'x' } }, 3],
  depth_multiplier: [0, -1, 2.5],
  dilation_rate: [0, [0, 0], 99],
};

export const jsonEdits: Record<string, JsonEdit> = {
  deleteKey: (json, rng) => {
    const objs = spots(json).filter(([o, k]) => !Array.isArray(o) && typeof k === 'string');
    if (objs.length === 0) return 'no key to delete';
    const [o, k] = pick(rng, objs);
    delete (o as Record<string, Json>)[k as string];
    return `deleted key "${k}"`;
  },
  addKey: (json, rng) => {
    const objs = spots(json).map(([o, k]) => (o as any)[k]).filter((v) => v && typeof v === 'object' && !Array.isArray(v));
    if (objs.length === 0) return 'no object';
    pick(rng, objs)[pick(rng, ['zzz', 'name', 'config', 'shape', '__proto__', 'constructor'])] = pick(rng, STRANGE_NUMBERS);
    return 'added a key';
  },
  number: (json, rng) => {
    const nums = spots(json).filter(([o, k]) => typeof (o as any)[k] === 'number');
    if (nums.length === 0) return 'no number';
    const [o, k] = pick(rng, nums);
    const v = pick(rng, STRANGE_NUMBERS);
    (o as any)[k] = v;
    return `number at "${k}" → ${JSON.stringify(v)}`;
  },
  anyValue: (json, rng) => {
    const all = spots(json);
    const [o, k] = pick(rng, all);
    const v = pick(rng, STRANGE_NUMBERS);
    (o as any)[k] = v;
    return `value at "${k}" → ${JSON.stringify(v)}`;
  },
  className: (json, rng) => {
    const layers = topologyLayers(json);
    if (layers.length === 0) return 'no layers';
    const l = pick(rng, layers);
    l.class_name = pick(rng, CLASS_NAMES);
    return `class of ${l.config?.name ?? l.name} → ${l.class_name}`;
  },
  layerConfig: (json, rng) => {
    const layers = topologyLayers(json).filter((l) => l?.config && typeof l.config === 'object');
    if (layers.length === 0) return 'no layers';
    const l = pick(rng, layers);
    const key = pick(rng, Object.keys(CONFIG_VALUES));
    l.config[key] = pick(rng, CONFIG_VALUES[key]!);
    return `${l.config.name}.${key} → ${JSON.stringify(l.config[key])}`;
  },
  wiring: (json, rng) => {
    const layers = topologyLayers(json).filter((l) => Array.isArray(l?.inbound_nodes) && l.inbound_nodes.length > 0);
    if (layers.length === 0) return 'not functional';
    const l = pick(rng, layers);
    const names = topologyLayers(json).map((x) => x?.name ?? x?.config?.name);
    const edits: Array<() => void> = [
      () => (l.inbound_nodes[0][0][0] = l.name), // self-loop
      () => (l.inbound_nodes[0][0][0] = 'nowhere'),
      () => (l.inbound_nodes[0][0][0] = pick(rng, names)),
      () => (l.inbound_nodes = []),
      () => l.inbound_nodes[0].push([pick(rng, names), 0, 0, {}]),
      () => (l.inbound_nodes[0][0][2] = 1),
      () => (l.inbound_nodes = [[['x']]]),
    ];
    pick(rng, edits)();
    return `inbound_nodes of ${l.name} → ${JSON.stringify(l.inbound_nodes)}`;
  },
  nesting: (json, rng) => {
    const all = spots(json);
    const [o, k] = pick(rng, all);
    const v = (o as any)[k];
    const edits: Array<() => Json> = [
      () => [v],
      () => ({ value: v }),
      () => (Array.isArray(v) ? { ...v } : v && typeof v === 'object' ? Object.values(v) : v),
      () => JSON.stringify(v) ?? null,
      () => { let deep: Json = v; for (let i = 0; i < 5000; i++) deep = [deep]; return deep; },
    ];
    (o as any)[k] = pick(rng, edits)();
    return `nested the value at "${k}"`;
  },
  history: (json, rng) => {
    // Keras 3 wires functional layers through keras_history: [layer, node, tensor] inside inbound_nodes' args.
    const histories = spots(json).filter(([o, k]) => k === 'keras_history' && Array.isArray((o as any)[k]));
    if (histories.length === 0) return 'no keras_history';
    const [o] = pick(rng, histories);
    const names = topologyLayers(json).map((x) => x?.name ?? x?.config?.name);
    const h = (o as any).keras_history;
    const edits: Array<() => void> = [
      () => (h[0] = pick(rng, names)),
      () => (h[0] = 'nowhere'),
      () => (h[1] = pick(rng, [1, -1, 1e9, 'x'])),
      () => (h[2] = pick(rng, [1, -1, 1e9, null])),
      () => ((o as any).keras_history = pick(rng, [[], null, 'x', [h[0]]])),
    ];
    pick(rng, edits)();
    return `keras_history → ${JSON.stringify((o as any).keras_history)}`;
  },
};

/** Cuts a JSON text at a seeded position. */
export function cutText(text: string, rng: Rng): { text: string; what: string } {
  const at = rng.int(text.length);
  return { text: text.slice(0, at), what: `cut at ${at} of ${text.length} characters` };
}
