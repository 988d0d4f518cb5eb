/**
 * The layer-class registry: the only place consumers (shape inference, MACs, pruning, ONNX export, ORT training,
 * reconstruction, quantisation, TFLite) look up what slimnet knows about a Keras class. Each family module declares
 * its classes (types.ts `LayerClass`); adding a family is one line here plus its module and its test.
 *
 * A class missing here is handled the same way everywhere: consumers that need it (shape inference, MACs, ONNX
 * export) raise `unsupportedClass` — `layer "x" (Foo): slimnet does not support Foo layers` (exit 2) — and the
 * pruning analysis lets the layer block the channels it touches. Reading a model with such a layer works (tfjs may
 * still run it), and its config keeps only the base fields.
 *
 * One source of truth for a layer's config: the Keras JSON (`LayerIR.keras`) is authoritative, because it is what
 * model.json holds and must be written back byte for byte (key order, initializers, keys slimnet never reads), and
 * the typed `config` is always `parseConfig(keras)`. Both are frozen; `withConfig` edits typed fields by writing
 * their Keras keys into a copy and parsing again, so a raw and a typed copy cannot drift.
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, WeightIR } from '../ir.ts';
import { activationLayers } from './activations/index.ts';
import { deepFreeze } from './config.ts';
import { convolutionLayers } from './convolution/index.ts';
import { denseLayers } from './dense.ts';
import { dropoutLayers } from './dropout.ts';
import { embeddingLayers } from './embedding.ts';
import { inputLayers } from './input.ts';
import { parseWith, rewrite } from './layer.ts';
import { mergeLayers } from './merge.ts';
import { normalizationLayers } from './normalization/index.ts';
import { poolingLayers } from './pooling/index.ts';
import { preprocessingLayers } from './rescaling.ts';
import { recurrentLayers } from './recurrent/index.ts';
import { reshapingLayers } from './reshaping.ts';
import { resamplingLayers } from './resampling/index.ts';
import { layerWhere } from './shared.ts';
import type { KerasConfig, LayerClass, LayerConfig } from './types.ts';

const CLASSES = {
  ...inputLayers,
  ...convolutionLayers,
  ...denseLayers,
  ...normalizationLayers,
  ...poolingLayers,
  ...mergeLayers,
  ...reshapingLayers,
  ...resamplingLayers,
  ...activationLayers,
  ...dropoutLayers,
  ...recurrentLayers,
  ...embeddingLayers,
  ...preprocessingLayers,
};

type ConfigOf<T> = T extends LayerClass<infer C> ? C : never;
/** Typed config of every registered class, by class name. */
export type LayerConfigs = { [K in keyof typeof CLASSES]: ConfigOf<(typeof CLASSES)[K]> };
export type KnownClass = keyof LayerConfigs;

/** Every class slimnet knows, sorted. */
export const LAYER_CLASSES: readonly string[] = Object.keys(CLASSES).sort();

export function layerClass(className: string): LayerClass<any> | undefined {
  return Object.hasOwn(CLASSES, className) ? (CLASSES as Record<string, LayerClass<any>>)[className] : undefined;
}

/** The one error for a class slimnet does not know, wherever it is needed. */
export function unsupportedClass(layer: { name: string; className: string }): SlimnetError {
  return new SlimnetError(
    'LAYER_UNSUPPORTED',
    layerWhere(layer),
    `slimnet does not support ${layer.className} layers`,
    `supported: ${LAYER_CLASSES.join(', ')}`,
  );
}

/** The class record of `layer`, or the unsupported-class error. */
export function classOf<C extends LayerConfig>(layer: LayerIR<C>): LayerClass<C> {
  const cls = layerClass(layer.className);
  if (!cls) throw unsupportedClass(layer);
  return cls as LayerClass<C>;
}

/** Narrows a layer to a registered class, with that class's typed config. */
export function isClass<K extends KnownClass>(layer: LayerIR, className: K): layer is LayerIR<LayerConfigs[K]> {
  return layer.className === className;
}

/** The typed config of a Keras config (validated; frozen). `name` is the layer's name, whatever the config says. */
export function parseConfig(className: string, keras: KerasConfig, name: string): LayerConfig {
  return parseWith(layerClass(className), className, keras, name);
}

export interface LayerSpec {
  name: string;
  className: string;
  /** The Keras config as model.json stores it (copied). */
  keras: KerasConfig | Record<string, unknown>;
  inputs?: string[];
  weights?: WeightIR[];
}

/** A layer from its Keras config: the one way the IR is built (topology reading, tests, tfjs bridge). */
export function layerFromKeras(spec: LayerSpec): LayerIR {
  const keras = deepFreeze(structuredClone(spec.keras)) as KerasConfig;
  return {
    name: spec.name,
    className: spec.className,
    config: parseConfig(spec.className, keras, spec.name),
    keras,
    inputs: [...(spec.inputs ?? [])],
    weights: spec.weights ?? [],
  };
}

/**
 * The weight names (tfjs order) a layer of `className` with this Keras config carries, or undefined for a class
 * slimnet does not know. Names depend on the config alone; the family's `weights` also gives shapes, so it is asked
 * with a placeholder input shape (any rank up to 5 works for every family) and only the names are kept.
 */
export function weightNames(className: string, keras: KerasConfig | Record<string, unknown>, name = className): string[] | undefined {
  const cls = layerClass(className);
  if (!cls) return undefined;
  const layer = layerFromKeras({ name, className, keras });
  const placeholder = [2, 2, 2, 2, 2];
  return cls.weights(layer, layer.inputs.length > 0 ? layer.inputs.map(() => placeholder) : [placeholder]).map((w) => w.name);
}

/**
 * `layer` with some typed config fields changed (a new layer; the old one is untouched). Each field is written back
 * under its Keras key in tfjs's form — in place when the key exists, so key order stays — and the typed config is
 * parsed again from the result.
 */
export function withConfig<C extends LayerConfig>(layer: LayerIR<C>, patch: Partial<Omit<C, 'name'>>): LayerIR<C> {
  return rewrite(classOf(layer), layer, patch);
}
