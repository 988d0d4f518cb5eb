/**
 * Keras layer classes -> the tfjs-layers classes and config keys model.json stores (snake_case). Each class lists
 * the keys tfjs knows; a Keras-only key is dropped when it holds its neutral value (null, false, groups = 1, …) and
 * refused otherwise, so an option tfjs would silently ignore never yields a different model.
 * Classes tfjs-layers cannot run the same way (custom, Lambda, TF-op layers, …) get one line saying what to do.
 */
import { activationName, dtypeString, isObject, plainValue, trainingObject, unsupported, type Json, type KerasContext } from './config-values.ts';

interface ClassMapping {
  /** The tfjs-layers class name it becomes. */
  tfjs?: string;
  /** Config keys tfjs understands, copied over (after value normalisation). */
  keys: string[];
  /** Keras key -> tfjs key. */
  rename?: Record<string, string>;
  /** Keras-only keys and the values that make them harmless (dropped); any other value is refused. */
  neutral?: Record<string, (v: unknown) => boolean>;
  /** Checks and rewrites that need more than one key. */
  adapt?: (config: Json, layer: string, ctx: KerasContext) => void;
}

const isOne = (v: unknown) => v === 1 || v === undefined || v === null || (Array.isArray(v) && v.every((x) => x === 1));
const isZero = (v: unknown) => v === 0 || v === 0.0 || v === null || v === undefined;
const always = () => true;

const CONV = ['filters', 'kernel_size', 'strides', 'padding', 'data_format', 'dilation_rate', 'activation', 'use_bias',
  'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'bias_constraint'];
const DENSE = ['units', 'activation', 'use_bias', 'kernel_initializer', 'bias_initializer', 'kernel_regularizer', 'bias_regularizer',
  'activity_regularizer', 'kernel_constraint', 'bias_constraint'];
const POOL = ['pool_size', 'strides', 'padding', 'data_format'];
const DROPOUT = ['rate', 'noise_shape', 'seed'];
const RNN = ['units', 'activation', 'use_bias', 'kernel_initializer', 'recurrent_initializer', 'bias_initializer', 'kernel_regularizer',
  'recurrent_regularizer', 'bias_regularizer', 'activity_regularizer', 'kernel_constraint', 'recurrent_constraint', 'bias_constraint',
  'dropout', 'recurrent_dropout', 'return_sequences', 'return_state', 'go_backwards', 'stateful', 'unroll'];
/**
 * Keras-only recurrent keys that change nothing tfjs computes: the dropout seed, the cuDNN switch, masked steps'
 * output (no mask reaches a layer slimnet runs). `time_major` true is refused (tfjs reads [batch, time, features]).
 */
const RNN_NEUTRAL = { seed: always, use_cudnn: always, zero_output_for_mask: always, time_major: (v: unknown) => !v };

const CLASSES: Record<string, ClassMapping> = {
  InputLayer: { keys: ['batch_input_shape', 'sparse'], rename: { batch_shape: 'batch_input_shape' }, neutral: { ragged: (v) => !v, optional: (v) => !v, batch_size: always, input_tensor: (v) => v == null } },
  Dense: { keys: DENSE },
  Conv1D: { keys: CONV, neutral: { groups: isOne } },
  Conv2D: { keys: CONV, neutral: { groups: isOne } },
  Conv2DTranspose: { keys: CONV, neutral: { groups: isOne, output_padding: (v) => v == null } },
  DepthwiseConv2D: {
    keys: ['kernel_size', 'depth_multiplier', 'strides', 'padding', 'data_format', 'dilation_rate', 'activation', 'use_bias',
      'depthwise_initializer', 'bias_initializer', 'depthwise_regularizer', 'bias_regularizer', 'activity_regularizer', 'depthwise_constraint', 'bias_constraint'],
    rename: { kernel_initializer: 'depthwise_initializer', kernel_regularizer: 'depthwise_regularizer', kernel_constraint: 'depthwise_constraint' },
    adapt: (c, layer) => {
      // tfjs's DepthwiseConv2D ignores dilation_rate: it would compute a different model.
      if (!isOne(c.dilation_rate)) throw unsupported(layer, 'DepthwiseConv2D', `has dilation_rate ${JSON.stringify(c.dilation_rate)}`, 'tfjs-layers runs DepthwiseConv2D without dilation; use dilation_rate 1');
    },
  },
  SeparableConv2D: {
    keys: [...CONV, 'depth_multiplier', 'depthwise_initializer', 'pointwise_initializer', 'depthwise_regularizer', 'pointwise_regularizer',
      'depthwise_constraint', 'pointwise_constraint'].filter((k) => !k.startsWith('kernel_')),
  },
  BatchNormalization: {
    keys: ['axis', 'momentum', 'epsilon', 'center', 'scale', 'beta_initializer', 'gamma_initializer', 'moving_mean_initializer',
      'moving_variance_initializer', 'beta_regularizer', 'gamma_regularizer', 'beta_constraint', 'gamma_constraint'],
    neutral: { synchronized: always, fused: always, renorm: (v) => !v, renorm_clipping: always, renorm_momentum: always, virtual_batch_size: (v) => v == null, adjustment: (v) => v == null },
    adapt: (c, layer) => {
      // Keras 2 saves a built layer's axis as a list ([3]); tfjs wants the one axis.
      if (Array.isArray(c.axis)) {
        if (c.axis.length !== 1) throw unsupported(layer, 'BatchNormalization', `normalises over axes ${JSON.stringify(c.axis)}`, 'tfjs-layers normalises over one axis');
        c.axis = c.axis[0];
      }
    },
  },
  Activation: { keys: ['activation'] },
  ReLU: {
    keys: ['max_value'], neutral: { threshold: isZero, negative_slope: isZero },
    adapt: (c, layer) => {
      if (!isZero(c.threshold)) throw unsupported(layer, 'ReLU', `has threshold ${c.threshold}`, 'tfjs-layers ReLU has no threshold; use threshold 0');
    },
  },
  LeakyReLU: { keys: ['alpha'], rename: { negative_slope: 'alpha' } },
  ELU: { keys: ['alpha'] },
  Softmax: { keys: ['axis'] },
  ThresholdedReLU: { keys: ['theta'] },
  Dropout: { keys: DROPOUT },
  // Channel-wise dropout is the identity at inference, like Dropout; tfjs-layers has no SpatialDropout2D.
  SpatialDropout1D: { tfjs: 'Dropout', keys: DROPOUT, neutral: { data_format: always } },
  SpatialDropout2D: { tfjs: 'Dropout', keys: DROPOUT, neutral: { data_format: always } },
  GaussianNoise: { keys: ['stddev', 'seed'] },
  GaussianDropout: { keys: ['rate', 'seed'] },
  AlphaDropout: { keys: ['rate', 'noise_shape', 'seed'] },
  MaxPooling1D: { keys: POOL }, AveragePooling1D: { keys: POOL },
  MaxPooling2D: { keys: POOL }, AveragePooling2D: { keys: POOL },
  GlobalAveragePooling1D: { keys: ['data_format'], neutral: { keepdims: (v) => !v } },
  GlobalMaxPooling1D: { keys: ['data_format'], neutral: { keepdims: (v) => !v } },
  GlobalAveragePooling2D: { keys: ['data_format'], neutral: { keepdims: (v) => !v } },
  GlobalMaxPooling2D: { keys: ['data_format'], neutral: { keepdims: (v) => !v } },
  Flatten: { keys: ['data_format'] },
  Reshape: { keys: ['target_shape'] },
  Permute: { keys: ['dims'] },
  Add: { keys: [] }, Subtract: { keys: [] }, Multiply: { keys: [] }, Average: { keys: [] }, Maximum: { keys: [] }, Minimum: { keys: [] },
  Concatenate: { keys: ['axis'] },
  ZeroPadding2D: { keys: ['padding', 'data_format'] },
  Cropping2D: { keys: ['cropping', 'data_format'] },
  UpSampling2D: { keys: ['size', 'data_format', 'interpolation'] },
  // Keras 3 keys: LoRA only while fine-tuning (rank null: off); `sparse` true would make a sparse gradient, not another output.
  Embedding: {
    keys: ['input_dim', 'output_dim', 'embeddings_initializer', 'embeddings_regularizer', 'activity_regularizer', 'embeddings_constraint', 'mask_zero', 'input_length'],
    neutral: { lora_rank: (v) => v == null, lora_alpha: always, sparse: always, quantization_config: (v) => v == null },
  },
  SimpleRNN: { keys: RNN, neutral: RNN_NEUTRAL },
  LSTM: { keys: [...RNN, 'recurrent_activation', 'unit_forget_bias', 'implementation'], neutral: RNN_NEUTRAL },
  GRU: {
    keys: [...RNN, 'recurrent_activation', 'implementation', 'reset_after'], neutral: RNN_NEUTRAL,
    adapt: (c, layer) => {
      // Keras's default since TF 2 is reset_after=True (the reset gate after the recurrent matmul, two biases);
      // tfjs-layers implements only the reset_after=False GRU.
      if (c.reset_after === true) {
        throw unsupported(layer, 'GRU', 'has reset_after=True (Keras\'s default), which tfjs-layers does not implement (it computes the reset_after=False GRU)',
          'build the GRU with reset_after=False and train it again, or use an LSTM');
      }
      delete c.reset_after;
    },
  },
  Bidirectional: {
    keys: ['merge_mode', 'layer', 'backward_layer'],
    adapt: (c, layer, ctx) => mapBidirectional(c, layer, ctx),
  },
  Rescaling: {
    keys: ['scale', 'offset'],
    adapt: (c, layer) => {
      // A number, or one value per channel (broadcast along the last axis, as in Keras and tfjs).
      const finite = (x: unknown) => typeof x === 'number' && Number.isFinite(x);
      for (const k of ['scale', 'offset']) {
        const v = c[k] ?? (k === 'offset' ? 0 : undefined);
        if (!finite(v) && !(Array.isArray(v) && v.length > 0 && v.every(finite))) {
          throw unsupported(layer, 'Rescaling', `has ${k} ${JSON.stringify(c[k])}`, 'slimnet reads Rescaling with a finite number or a flat list of per-channel numbers');
        }
        c[k] = v;
      }
    },
  },
};

/**
 * Augmentation layers that return their input unchanged outside training (Keras 3's BaseImagePreprocessingLayer:
 * `if training: transform` — only a cast to the compute dtype, float32 here; tf.keras 2's the same): left out of
 * the model (model-config.ts). RandomCrop is not among them: at inference it center-crops to its height × width.
 */
export const INFERENCE_IDENTITY: ReadonlySet<string> = new Set(['RandomFlip', 'RandomRotation', 'RandomZoom', 'RandomTranslation', 'RandomContrast', 'RandomBrightness']);

/** Classes with a known reason they cannot be read, and what the user can do. */
const REFUSED: Record<string, [string, string]> = {
  Lambda: ['is a Lambda layer: its Python function cannot run outside Python', 'replace it with built-in layers (e.g. Rescaling, Activation, Reshape) and save again'],
  TFOpLambda: ['is a TensorFlow op recorded as a layer (a tf.* call in a functional model)', 'replace the tf.* call with the equivalent Keras layer and save again'],
  SlicingOpLambda: ['is a TensorFlow slicing op recorded as a layer', 'replace the slice with a Keras layer (Cropping2D, Reshape) and save again'],
  TFSMLayer: ['wraps a TensorFlow SavedModel', 'save the underlying Keras model itself'],
  RandomCrop: ['is a RandomCrop: at inference it center-crops (and resizes) the image to its height × width, which slimnet does not run',
    'crop the images to that size before they reach the model, and save the model without RandomCrop'],
};

/** Keys every layer may carry; `name` and `trainable` pass through, `dtype` is normalised. */
const BASE_KEYS = new Set(['name', 'trainable', 'dtype', 'batch_input_shape']);

export interface MappedLayer {
  className: string;
  config: Json;
}

/**
 * One Keras layer config (already unwrapped from Keras 3's `{module, class_name, config}`) -> tfjs's class and
 * config. `module` and `registeredName` tell built-in Keras classes from custom ones.
 */
export function mapLayerClass(className: string, rawConfig: Json, layer: string, ctx: KerasContext, module?: string, registeredName?: string | null): MappedLayer {
  const custom = (module !== undefined && !/^(keras|tf_keras|tensorflow)(\.|$)/.test(module)) ||
    (typeof registeredName === 'string' && registeredName !== className && registeredName.includes('>'));
  if (custom) {
    throw unsupported(layer, className, `is a custom layer class (${registeredName ?? `${module}.${className}`})`,
      'slimnet runs built-in Keras layers only: rebuild the layer from built-in ones, or convert that part of the model');
  }
  const refused = REFUSED[className];
  if (refused) throw unsupported(layer, className, refused[0], refused[1]);
  if (className === 'Normalization') return normalizationAsRescaling(rawConfig, layer);
  const mapping = CLASSES[className];
  if (!mapping) {
    throw unsupported(layer, className, 'is a Keras layer class slimnet does not read yet',
      `supported classes: ${[...Object.keys(CLASSES), 'Normalization', ...INFERENCE_IDENTITY].filter((c) => c !== 'InputLayer').join(', ')}`);
  }
  const raw = plainValue(rawConfig) as Json;
  const config: Json = {};
  for (const [key, value] of Object.entries(raw)) {
    const target = mapping.rename?.[key] ?? key;
    if (key === 'dtype') config.dtype = className === 'InputLayer' && isIntegerDtype(value) ? idsAsFloat(layer, value as string, ctx) : dtypeString(value, layer, className);
    else if (BASE_KEYS.has(target) || mapping.keys.includes(target)) config[target] = normaliseValue(target, value, layer, className, ctx);
    else if (mapping.neutral?.[key]) {
      if (!mapping.neutral[key](value)) throw unsupported(layer, className, `has ${key} = ${JSON.stringify(value)}`, `tfjs-layers' ${className} has no such option; save the model with the default`);
    } else if (!isNeutral(value)) {
      throw unsupported(layer, className, `has option ${key} = ${JSON.stringify(value)}, which tfjs-layers' ${mapping.tfjs ?? className} does not have`, 'save the model without that option, or report the Keras version that wrote it');
    }
  }
  config.dtype ??= 'float32';
  mapping.adapt?.(config, layer, ctx);
  if (mapping.tfjs && mapping.tfjs !== className) ctx.notes.push(`layer "${layer}": ${className} read as ${mapping.tfjs} (the same at inference)`);
  return { className: mapping.tfjs ?? className, config };
}

const isIntegerDtype = (v: unknown) => typeof v === 'string' && /^u?int(8|16|32|64)$/.test(v);

/**
 * An integer model input (token ids for an Embedding) is read as float32, the dtype tfjs feeds and every export
 * takes: Keras casts the ids for the Embedding anyway, and float32 holds every integer up to 2^24 exactly.
 */
function idsAsFloat(layer: string, dtype: string, ctx: KerasContext): string {
  ctx.notes.push(`layer "${layer}": ${dtype} input read as float32 (integer ids up to 2^24 are exact)`);
  return 'float32';
}

/** An unknown option holding nothing (null, false, {}, []) changes nothing and is dropped. */
function isNeutral(v: unknown): boolean {
  return v === null || v === undefined || v === false || (Array.isArray(v) && v.length === 0) || (isObject(v) && Object.keys(v).length === 0);
}

function normaliseValue(key: string, value: unknown, layer: string, className: string, ctx: KerasContext): unknown {
  if (key === 'activation' || key === 'recurrent_activation') return activationName(value, layer, className, ctx);
  for (const kind of ['initializer', 'regularizer', 'constraint'] as const) {
    if (key.endsWith(`_${kind}`)) return trainingObject(kind, value, layer, key, ctx) ?? null;
  }
  return value;
}

/**
 * Keras's Normalization layer, (x − mean) / max(√variance, ε), as tfjs's Rescaling x·scale + offset with
 * per-channel scale = 1/max(√variance, ε) and offset = −mean·scale (or its inverse with `invert`). mean and
 * variance come from the config or, for an adapted layer, from its variables; the rewrite happens once the
 * weights are read (see normalizationWeights).
 */
function normalizationAsRescaling(raw: Json, layer: string): MappedLayer {
  const config = plainValue(raw) as Json;
  const axis = config.axis === undefined ? -1 : config.axis;
  const lastAxis = axis === -1 || (Array.isArray(axis) && axis.length === 1 && axis[0] === -1);
  if (!lastAxis && axis !== null && !(Array.isArray(axis) && axis.length === 0)) {
    throw unsupported(layer, 'Normalization', `normalises over axis ${JSON.stringify(axis)}`, 'slimnet reads Normalization over the last (channel) axis or over all values (axis=None)');
  }
  return {
    className: 'Rescaling',
    config: { name: config.name ?? layer, trainable: false, dtype: 'float32', __normalization: { mean: config.mean ?? null, variance: config.variance ?? null, invert: config.invert === true } },
  };
}

const KERAS_EPSILON = 1e-7;

/**
 * Completes a Normalization mapped to Rescaling: mean/variance from the config or from the layer's variables
 * (mean, variance, count in Keras's order). Returns the variables it consumed.
 */
export function finishNormalization(config: Json, variables: Float32Array[], layer: string): void {
  const spec = config.__normalization as { mean: unknown; variance: unknown; invert: boolean } | undefined;
  if (!spec) return;
  delete config.__normalization;
  const toArray = (v: unknown): number[] | undefined => (typeof v === 'number' ? [v] : Array.isArray(v) ? (v.flat(Infinity) as number[]) : undefined);
  const mean = toArray(spec.mean) ?? (variables[0] ? [...variables[0]] : undefined);
  const variance = toArray(spec.variance) ?? (variables[1] ? [...variables[1]] : undefined);
  if (!mean || !variance || mean.length !== variance.length || mean.length === 0 || ![...mean, ...variance].every(Number.isFinite)) {
    throw unsupported(layer, 'Normalization', 'has no usable mean and variance (was it adapted before saving?)', 'call adapt() or pass mean= and variance=, then save again');
  }
  const std = variance.map((v) => Math.max(Math.sqrt(v), KERAS_EPSILON));
  const scale = spec.invert ? std : std.map((s) => 1 / s);
  const offset = spec.invert ? mean : mean.map((m, i) => -m * scale[i]);
  config.scale = scale.length === 1 ? scale[0] : scale;
  config.offset = offset.length === 1 ? offset[0] : offset;
}

/** Keras variables each class stores, in Keras's order (trainable first, then non-trainable). */
export function kerasVariableCount(className: string, config: Json): number | undefined {
  if (className === 'Rescaling' && config.__normalization) {
    const spec = config.__normalization as { mean: unknown };
    return spec.mean === null ? 3 : 0;
  }
  return undefined;
}

const RECURRENT = new Set(['SimpleRNN', 'LSTM', 'GRU']);

/**
 * A Bidirectional's wrapped layer, mapped like any layer. Keras 3 saves the forward copy (`forward_<name>`) as
 * `layer` and the backward copy as `backward_layer`; tf.keras 2 saves the original as `layer` and `backward_layer`
 * only for a custom backward layer. tfjs builds the backward copy itself (same config, go_backwards flipped), so
 * `backward_layer` must be exactly that copy: anything else is refused.
 */
function mapBidirectional(c: Json, layer: string, ctx: KerasContext): void {
  const inner = (raw: unknown, what: string): MappedLayer & { name: string } => {
    const v = plainValue(raw) as Json;
    if (!isObject(v) || typeof v.class_name !== 'string' || !isObject(v.config)) {
      throw unsupported(layer, 'Bidirectional', `has no ${what} {class_name, config}`, 'save the model again');
    }
    if (!RECURRENT.has(v.class_name)) throw unsupported(layer, 'Bidirectional', `wraps a ${v.class_name}`, 'slimnet runs Bidirectional SimpleRNN, LSTM and GRU layers');
    const module = typeof v.module === 'string' ? v.module : undefined;
    const mapped = mapLayerClass(v.class_name, v.config, layer, ctx, module, v.registered_name as string | null | undefined);
    return { ...mapped, name: String(v.config.name ?? '') };
  };
  const forward = inner(c.layer, 'wrapped layer');
  c.layer = { class_name: forward.className, config: forward.config };
  const raw = c.backward_layer;
  delete c.backward_layer;
  if (raw !== undefined && raw !== null) {
    const backward = inner(raw, 'backward_layer');
    const comparable = (m: MappedLayer) => JSON.stringify({ ...m.config, name: undefined, go_backwards: undefined });
    const flipped = backward.config.go_backwards === !forward.config.go_backwards;
    if (backward.className !== forward.className || !flipped || comparable(backward) !== comparable(forward)) {
      throw unsupported(layer, 'Bidirectional', 'has a backward_layer that is not the forward layer run backwards', 'tfjs-layers builds the backward layer from the forward one; save the model without a custom backward_layer');
    }
  }
}
