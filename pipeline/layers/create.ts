/**
 * New layers with tfjs's defaults, for stages that add layers (the separable stage's DepthwiseConv2D + 1×1 Conv2D
 * pairs, low-rank Dense pairs). tfjs itself fills the defaults: its layer constructor applies them and getConfig
 * lists them in the order model.json stores them, so a created layer is written exactly as tfjs would write it —
 * no default is restated here. The arguments are tfjs's own typed layer args (camelCase, as `tf.layers.conv2d`
 * takes them); the result is parsed like any other layer.
 */
import * as tf from '@tensorflow/tfjs';
import type { LayerIR, WeightIR } from '../ir.ts';
import { layerFromKeras, type KnownClass, type LayerConfigs } from './registry.ts';
import type { KerasConfig, KerasValue } from './types.ts';

/** tfjs's constructor arguments per class (`name` is required: slimnet never invents layer names). */
export interface LayerArgs {
  Dense: Parameters<typeof tf.layers.dense>[0];
  Conv1D: Parameters<typeof tf.layers.conv1d>[0];
  Conv2D: Parameters<typeof tf.layers.conv2d>[0];
  Conv2DTranspose: Parameters<typeof tf.layers.conv2dTranspose>[0];
  DepthwiseConv2D: Parameters<typeof tf.layers.depthwiseConv2d>[0];
  SeparableConv2D: Parameters<typeof tf.layers.separableConv2d>[0];
  BatchNormalization: NonNullable<Parameters<typeof tf.layers.batchNormalization>[0]>;
  Activation: Parameters<typeof tf.layers.activation>[0];
  ReLU: NonNullable<Parameters<typeof tf.layers.reLU>[0]>;
  Add: NonNullable<Parameters<typeof tf.layers.add>[0]>;
  Concatenate: NonNullable<Parameters<typeof tf.layers.concatenate>[0]>;
  Flatten: NonNullable<Parameters<typeof tf.layers.flatten>[0]>;
  Reshape: Parameters<typeof tf.layers.reshape>[0];
  ZeroPadding2D: NonNullable<Parameters<typeof tf.layers.zeroPadding2d>[0]>;
  MaxPooling2D: Parameters<typeof tf.layers.maxPooling2d>[0];
  AveragePooling2D: Parameters<typeof tf.layers.averagePooling2d>[0];
  GlobalAveragePooling2D: Parameters<typeof tf.layers.globalAveragePooling2d>[0];
  Dropout: Parameters<typeof tf.layers.dropout>[0];
}

/** tfjs-layers' toSnakeCase (generic_utils.ts). */
function snake(name: string): string {
  const s = name.replace(/(.)([A-Z][a-z0-9]+)/g, '$1_$2').replace(/([a-z])([A-Z])/g, '$1_$2').toLowerCase();
  return s[0] === '_' ? `private${s}` : s;
}

/** tfjs-layers' convertTsToPythonic: keys and string values snake_cased (names kept), undefined as null. */
function pythonic(value: unknown, key?: string): KerasValue {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return (key === 'name' || key === 'className') ? value : snake(value);
  if (typeof value === 'number' || typeof value === 'boolean') return value;
  if (Array.isArray(value)) return value.map((v) => pythonic(v, key));
  const out: Record<string, KerasValue> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) out[snake(k)] = pythonic(v, k);
  return out;
}

/** The Keras config tfjs would save for a layer of `className` built with `args`. */
export function kerasConfigOf(className: string, args: Record<string, unknown>): KerasConfig {
  const entry = tf.serialization.SerializationMap.getMap().classNameMap[className];
  if (!entry) throw new Error(`tfjs has no layer class ${className}`);
  const layer = new (entry[0] as unknown as new (args: Record<string, unknown>) => tf.layers.Layer)(args);
  return pythonic(layer.getConfig()) as KerasConfig;
}

/**
 * A new layer of `className` reading `inputs`, with tfjs's defaults for every option not in `args`. The weights
 * must be the ones its family declares (in tfjs order) — read-model and the exporters check them.
 */
export function createLayer<K extends keyof LayerArgs & KnownClass>(
  className: K, args: LayerArgs[K] & { name: string }, inputs: string[], weights: WeightIR[] = [],
): LayerIR<LayerConfigs[K]> {
  const keras = kerasConfigOf(className, args as unknown as Record<string, unknown>);
  return layerFromKeras({ name: args.name, className, keras, inputs, weights }) as LayerIR<LayerConfigs[K]>;
}
