/**
 * The legacy HDF5 format (`model.save('m.h5')` in Keras 2 and Keras 3):
 *   root attributes  model_config (JSON), keras_version, backend, training_config (ignored)
 *   model_weights/   attribute layer_names (or layer_names0, layer_names1, … when large: Keras splits attributes
 *                    above 64 KB); one group per layer with attribute weight_names and the datasets they name
 *   optimizer_weights/ (ignored)
 * Dataset paths vary with the Keras that wrote them (`model_weights/conv2d/conv2d/kernel:0` in tf.keras 2,
 * `model_weights/dense/kernel` in Keras 3.1, `model_weights/dense/sequential/dense/kernel` in Keras 3.5+), so the
 * weight_names attributes are trusted, not the paths; attributes may be fixed-length byte strings (old h5py) or
 * variable-length strings. Layers are matched to weight groups in order, as Keras's own loader does.
 */
import { SlimnetError } from '../../errors.ts';
import { isObject, type Json } from './config-values.ts';
import type { Hdf5File } from './hdf5.ts';
import type { KerasLayerInfo } from './flatten-models.ts';
import { hasWeights } from './keras3-weights.ts';
import type { RawVariable } from './variables.ts';

/** Keras's load_attributes_from_hdf5_group: `name`, or `name0`, `name1`, … concatenated. */
export function chunkedStringAttr(h5: Hdf5File, path: string, name: string): string[] | undefined {
  const whole = h5.stringListAttr(path, name);
  if (whole) return whole;
  const names = new Set(h5.attrNames(path));
  if (!names.has(`${name}0`)) return undefined;
  const out: string[] = [];
  for (let i = 0; names.has(`${name}${i}`); i++) out.push(...h5.stringListAttr(path, `${name}${i}`)!);
  return out;
}

/** The root's `model_config` JSON (undefined for a weights-only file). */
export function legacyModelConfig(h5: Hdf5File): Json | undefined {
  const raw = h5.attr('/', 'model_config');
  if (raw === undefined) return undefined;
  const text = Array.isArray(raw) ? raw[0] : raw;
  if (typeof text !== 'string') throw new SlimnetError('MODEL_INVALID', h5.where, 'its model_config attribute is not text', 'save the model again with model.save()');
  try {
    const json = JSON.parse(text) as unknown;
    if (!isObject(json)) throw new Error('not an object');
    return json;
  } catch (e) {
    throw new SlimnetError('MODEL_INVALID', h5.where, `its model_config attribute is not valid JSON (${(e as Error).message})`, 'save the model again with model.save()');
  }
}

export function legacyKerasVersion(h5: Hdf5File): string | undefined {
  for (const path of ['/', '/model_weights']) {
    const v = h5.kind(path) === 'Group' ? h5.attr(path, 'keras_version') : undefined;
    const s = Array.isArray(v) ? v[0] : v;
    if (typeof s === 'string') return s;
  }
  return undefined;
}

/** Each weighted layer's variables in weight_names order, keyed by the model's layer names. */
export function readLegacyVariables(h5: Hdf5File, layers: KerasLayerInfo[], weighted: (layer: KerasLayerInfo) => boolean): Map<string, RawVariable[]> {
  const root = h5.kind('/model_weights') === 'Group' ? '/model_weights' : '/';
  const layerNames = chunkedStringAttr(h5, root, 'layer_names');
  if (!layerNames) {
    throw new SlimnetError('MODEL_INVALID', h5.where, 'has no layer_names attribute on its model_weights group', 'the file was not written by Keras model.save(); save the model again');
  }
  const saved: Array<{ name: string; group: string; weightNames: string[] }> = [];
  for (const name of layerNames) {
    const group = `${root === '/' ? '' : root}/${name}`;
    if (h5.kind(group) !== 'Group') {
      throw new SlimnetError('MODEL_INVALID', h5.where, `layer_names lists "${name}" but there is no group ${group}`, 'the file is truncated or corrupt; save the model again');
    }
    const weightNames = chunkedStringAttr(h5, group, 'weight_names') ?? [];
    if (weightNames.length > 0) saved.push({ name, group, weightNames });
  }
  const needing = layers.filter((l) => hasWeights(l, weighted));
  if (saved.length !== needing.length) {
    throw new SlimnetError('MODEL_INVALID', h5.where,
      `holds weights for ${saved.length} layers (${saved.map((s) => s.name).join(', ') || 'none'}) but the model config has ${needing.length} layers with weights (${needing.map((l) => l.name).join(', ') || 'none'})`,
      'the weights do not match the model config; save the model again');
  }
  const result = new Map<string, RawVariable[]>();
  needing.forEach((layer, k) => {
    const { group, weightNames } = saved[k]!;
    const read = (w: string): RawVariable => {
      const path = `${group}/${w}`;
      if (h5.kind(path) !== 'Dataset') {
        throw new SlimnetError('MODEL_INVALID', `layer "${layer.name}"`, `weight_names lists "${w}" but ${h5.where} has no dataset ${path}`, 'the file is truncated or corrupt; save the model again');
      }
      return { ...h5.readDataset(path), path };
    };
    if (!layer.children) {
      result.set(layer.name, weightNames.map(read));
      return;
    }
    // A nested model saves all its layers' weights in one group (trainable ones first, then the rest); each
    // name's second-to-last part is the inner layer's own name, and each layer's weights keep their order.
    const inner = new Map<string, KerasLayerInfo>();
    const collect = (ls: KerasLayerInfo[]) => ls.forEach((l) => (l.children ? collect(l.children) : inner.set(l.kerasName, l)));
    collect(layer.children);
    for (const w of weightNames) {
      const parts = w.replace(/:\d+$/, '').split('/');
      const owner = inner.get(parts[parts.length - 2] ?? '');
      if (!owner) {
        throw new SlimnetError('MODEL_INVALID', `layer "${layer.name}" (${layer.kerasClass})`, `weight "${w}" in ${h5.where} belongs to none of its layers`, 'the weights do not match the model config; save the model again');
      }
      result.set(owner.name, [...(result.get(owner.name) ?? []), read(w)]);
    }
  });
  return result;
}
