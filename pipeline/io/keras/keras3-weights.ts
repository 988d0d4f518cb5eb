/**
 * Weights of a Keras 3 `.keras` archive (its `model.weights.h5`), and of tf.keras 2.13+'s `.keras` files.
 *
 * Keras saves each layer's variables as datasets `0, 1, …` (trainable first, then non-trainable) in a group
 * `<container>/<class-derived name>/vars`, where the container is `layers` (Keras 3) or
 * `_layer_checkpoint_dependencies` (tf.keras 2.13) and the name is the snake-cased class plus a per-class counter
 * (`conv2d`, `conv2d_1`, …) — not the layer's own name. Files saved on Windows by tf.keras hold the path in one
 * group name with backslashes (`layers\conv2d`), and tf.keras's counters can skip numbers, so groups are matched
 * to layers by class and by counter order, not by exact name. Newer Keras also records the layer's name on the
 * `vars` group; when every group has one, names decide.
 */
import { SlimnetError } from '../../errors.ts';
import type { Hdf5File } from './hdf5.ts';
import type { KerasLayerInfo } from './flatten-models.ts';
import type { RawVariable } from './variables.ts';

const CONTAINERS = ['layers', '_layer_checkpoint_dependencies'];
/** A hostile file could hold millions of groups; a model's weights file holds a few per layer. */
const MAX_GROUPS = 200_000;

interface VarsGroup {
  /** Path segments with backslashes split, e.g. ['layers', 'conv2d_1']. */
  segments: string[];
  /** The HDF5 path of its `vars` group. */
  varsPath: string;
}

/** Keras's naming.to_snake_case. */
export function toSnakeCase(name: string): string {
  return name.replace(/\W+/g, '').replace(/(.)([A-Z][a-z]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
}

function findVarsGroups(h5: Hdf5File): VarsGroup[] {
  const found: VarsGroup[] = [];
  let visited = 0;
  const walk = (path: string, segments: string[], depth: number) => {
    for (const child of h5.children(path)) {
      if (++visited > MAX_GROUPS) throw new SlimnetError('MODEL_INVALID', h5.where, `holds more than ${MAX_GROUPS} HDF5 objects`, 'this is not a Keras weights file');
      const childPath = path === '/' ? `/${child}` : `${path}/${child}`;
      if (h5.kind(childPath) !== 'Group') continue;
      if (child === 'vars') found.push({ segments, varsPath: childPath });
      else if (depth < 8) walk(childPath, [...segments, ...child.split('\\').filter(Boolean)], depth + 1);
    }
  };
  walk('/', [], 0);
  return found;
}

/** Reads `vars/0`, `vars/1`, … in numeric order. */
function readVars(h5: Hdf5File, varsPath: string): RawVariable[] {
  const names = h5.children(varsPath).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  return names.map((n) => {
    const path = `${varsPath}/${n}`;
    return { ...h5.readDataset(path), path };
  });
}

/**
 * Where a class's variables sit below its own group: Keras saves a sublayer's variables in a group named after the
 * attribute holding it, so a recurrent layer's are in its `cell`, a Bidirectional's in its two copies (forward
 * first: the order tfjs keeps them in).
 */
const NESTED_VARS: Record<string, string[]> = {
  SimpleRNN: ['cell'], LSTM: ['cell'], GRU: ['cell'],
  Bidirectional: ['forward_layer/cell', 'backward_layer/cell'],
};

/** A leaf layer's variables, from its own `vars` group or the nested groups its class keeps them in. */
function layerVars(h5: Hdf5File, varsPath: string, kerasClass: string): RawVariable[] {
  const nested = NESTED_VARS[kerasClass];
  if (!nested) return readVars(h5, varsPath);
  const base = varsPath.slice(0, -'/vars'.length);
  return nested.flatMap((sub) => (h5.kind(`${base}/${sub}/vars`) === 'Group' ? readVars(h5, `${base}/${sub}/vars`) : []));
}

/** A layer that has a group in the weights file: a weighted layer, or a nested model holding one. */
export function hasWeights(layer: KerasLayerInfo, weighted: (layer: KerasLayerInfo) => boolean): boolean {
  return layer.children ? layer.children.some((c) => hasWeights(c, weighted)) : weighted(layer);
}

/** Each weighted layer's Keras variables, keyed by its (flattened) name. `weighted(layer)` says which leaf layers must have some. */
export function readKeras3Variables(h5: Hdf5File, layers: KerasLayerInfo[], weighted: (layer: KerasLayerInfo) => boolean): Map<string, RawVariable[]> {
  const groups = findVarsGroups(h5);
  const result = new Map<string, RawVariable[]>();
  resolveLevel(h5, groups, [], layers, weighted, result);
  return result;
}

/**
 * Matches one model's layers to the groups under `prefix`/<container>/…: by the `name` attribute newer Keras
 * writes when every group at this level has one, else by class and counter order. Nested models recurse.
 */
function resolveLevel(h5: Hdf5File, all: VarsGroup[], prefix: string[], layers: KerasLayerInfo[], weighted: (l: KerasLayerInfo) => boolean, result: Map<string, RawVariable[]>): void {
  const under = (container: string) => all.filter((g) => g.segments.length > prefix.length + 1 && g.segments[prefix.length] === container && prefix.every((p, i) => g.segments[i] === p));
  // A file written by one Keras uses one container; prefer Keras 3's when both appear.
  const container = CONTAINERS.find((c) => under(c).length > 0) ?? CONTAINERS[0]!;
  const groups = under(container);
  const depth = prefix.length + 1;
  const needing = layers.filter((l) => hasWeights(l, weighted));
  const where = (l: KerasLayerInfo) => `layer "${l.name}" (${l.kerasClass})`;
  const missing = (l: KerasLayerInfo) => new SlimnetError('MODEL_INVALID', where(l), `has no weights in ${h5.where} (no ${[...prefix, container].join('/')}/${toSnakeCase(l.kerasClass)}*/ group left for it)`,
    'the weights file does not match the model config; save the model again');
  // Direct vars groups at this level, by name attribute when all of them carry one.
  const direct = groups.filter((g) => g.segments.length === depth + 1);
  const names = direct.map((g) => h5.attr(g.varsPath, 'name'));
  const leaves = needing.filter((l) => !l.children);
  const byName = direct.length > 0 && names.every((n) => typeof n === 'string') && new Set(names).size === names.length &&
    leaves.every((l) => names.includes(l.kerasName));
  const buckets = new Map<string, Array<{ index: number; key: string }>>();
  for (const key of new Set(groups.map((g) => g.segments[depth]!))) {
    const match = /^(.*?)(?:_(\d+))?$/.exec(key)!;
    const list = buckets.get(match[1]!) ?? [];
    list.push({ index: match[2] === undefined ? 0 : Number(match[2]), key });
    buckets.set(match[1]!, list);
  }
  for (const list of buckets.values()) list.sort((a, b) => a.index - b.index);
  // Keras 3 numbers every layer of a class in the list, weightless ones too (a data-augmentation Sequential before a
  // pretrained one holds `sequential`, the base `sequential_1`): when a class has exactly one group per layer, a
  // layer takes the group at its own position among them.
  const ofClass = (l: KerasLayerInfo) => layers.filter((x) => x.kerasClass === l.kerasClass);
  const positional = (l: KerasLayerInfo) => {
    const list = buckets.get(toSnakeCase(l.kerasClass));
    const all = ofClass(l);
    return list && list.length === all.length && all.length > needing.filter((x) => x.kerasClass === l.kerasClass).length ? list[all.indexOf(l)] : undefined;
  };
  for (const layer of needing) {
    if (byName && !layer.children) {
      const g = direct[names.indexOf(layer.kerasName)]!;
      result.set(layer.name, layerVars(h5, g.varsPath, layer.kerasClass));
      continue;
    }
    const next = positional(layer) ?? buckets.get(toSnakeCase(layer.kerasClass))?.shift();
    if (!next) throw missing(layer);
    if (layer.children) {
      resolveLevel(h5, all, [...prefix, container, next.key], layer.children, weighted, result);
      continue;
    }
    const g = direct.find((d) => d.segments[depth] === next.key);
    if (!g) throw missing(layer);
    const vars = layerVars(h5, g.varsPath, layer.kerasClass);
    if (vars.length === 0) throw new SlimnetError('MODEL_INVALID', where(layer), `has no weights in ${h5.where}`, 'the weights file does not match the model config; save the model again');
    result.set(layer.name, vars);
  }
}
