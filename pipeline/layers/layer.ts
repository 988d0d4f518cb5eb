/**
 * Parsing a layer's Keras config into its typed config, and editing typed fields, given the layer's class record.
 * (registry.ts looks the class up; family modules call `rewrite` with their own record, so they need not import
 * the registry, which imports them.)
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR } from '../ir.ts';
import { bool, checkCommonKeys, deepFreeze, type Field, type FieldContext } from './config.ts';
import { layerWhere } from './shared.ts';
import type { KerasConfig, KerasValue, LayerClass, LayerConfig } from './types.ts';

const TRAINABLE: Field<boolean> = bool('trainable', true);

function isObject(v: unknown): v is KerasConfig {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The typed config (validated, frozen) of a Keras config; only the base fields for a class slimnet does not know. */
export function parseWith(cls: LayerClass<any> | undefined, className: string, keras: KerasConfig, name: string): LayerConfig {
  const where = layerWhere({ name, className });
  if (!isObject(keras)) throw new SlimnetError('MODEL_INVALID', where, 'config is not an object', 'the model.json topology is damaged; re-save the model');
  checkCommonKeys(keras, where);
  const ctx = (key: string): FieldContext => ({ where, key, raw: keras });
  const config: Record<string, unknown> = { name, trainable: TRAINABLE.read(keras.trainable, ctx('trainable')) };
  if (cls) {
    for (const [prop, field] of Object.entries(cls.fields) as Array<[string, Field<unknown>]>) {
      config[prop] = field.read(keras[field.key], ctx(field.key));
    }
    cls.check?.(config as never, (key, message, unsupported) => {
      throw new SlimnetError(
        unsupported ? 'LAYER_UNSUPPORTED' : 'MODEL_INVALID',
        where,
        `config.${key}: ${message}`,
        unsupported ? 'change the layer or leave it out' : 'the model.json topology is damaged; re-save the model',
      );
    }, keras);
  }
  return deepFreeze(config) as unknown as LayerConfig;
}

/** `layer` of class `cls` with typed fields changed: written back under their Keras keys, then parsed again. */
export function rewrite<C extends LayerConfig>(cls: LayerClass<any>, layer: LayerIR<C>, patch: Partial<Omit<C, 'name'>>): LayerIR<C> {
  const keras: Record<string, KerasValue> = { ...layer.keras };
  for (const [prop, value] of Object.entries(patch)) {
    const field = prop === 'trainable' ? TRAINABLE : (cls.fields as Record<string, Field<unknown>>)[prop];
    if (!field) throw new Error(`${layer.className} has no config field "${prop}"`);
    keras[field.key] = field.write(value);
  }
  deepFreeze(keras);
  return { ...layer, keras, config: parseWith(cls, layer.className, keras, layer.name) as C };
}
