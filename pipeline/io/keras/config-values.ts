/**
 * Value-level normalisation of Keras 2/3 layer configs into the form tfjs's model.json stores: Keras 3's
 * `{module, class_name, config, registered_name}` wrappers unwrapped, DTypePolicy objects as dtype strings,
 * initializers/regularizers/constraints under their tfjs class names, activation names tfjs knows.
 */
import { SlimnetError } from '../../errors.ts';

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** What the mapping knows about the file: Keras 3 changed some definitions (e.g. hard_sigmoid). */
export interface KerasContext {
  /** Major version of the Keras that wrote the file: 2 (tf.keras / Keras 2) or 3. */
  kerasMajor: 2 | 3;
  /** The file, for messages. */
  where: string;
  /** One line per harmless change the mapping made (e.g. a training-only regularizer dropped). */
  notes: string[];
}

export function unsupported(layer: string, className: string, what: string, hint: string): SlimnetError {
  return new SlimnetError('LAYER_UNSUPPORTED', `layer "${layer}" (${className})`, what, hint);
}

const FLOAT_POLICIES = new Set(['float32', 'float16', 'bfloat16', 'float64', 'mixed_float16', 'mixed_bfloat16']);

/**
 * A layer's dtype (a string in Keras 2, a DTypePolicy object in Keras 3) as the dtype string tfjs computes in.
 * Float and mixed-precision policies compute in float32 here (weights are upcast, never rounded); a quantised
 * policy (int8, float8, int4, GPTQ) stores weights slimnet cannot dequantise faithfully, so it is refused.
 */
export function dtypeString(value: unknown, layer: string, className: string): string {
  if (value === undefined || value === null) return 'float32';
  const policy = isObject(value) ? (isObject(value.config) ? value.config.name : value.name) : value;
  const policyClass = isObject(value) ? String(value.class_name ?? '') : '';
  if (typeof policy !== 'string') {
    throw new SlimnetError('MODEL_INVALID', `layer "${layer}" (${className})`, `has an unreadable dtype ${JSON.stringify(value)}`, 'save the model again with Keras');
  }
  if (/Quantized|Float8|GPTQ|AWQ/i.test(policyClass) || /int8|int4|float8|gptq|awq/i.test(policy)) {
    throw unsupported(layer, className, `is quantised by Keras (dtype policy "${policy}")`,
      "slimnet reads float models: save the model before calling Keras's quantize(), then use slimnet's quantize stage");
  }
  if (!FLOAT_POLICIES.has(policy)) {
    throw unsupported(layer, className, `has dtype policy "${policy}"`, 'slimnet reads float32, float16, bfloat16 and mixed-precision models');
  }
  return 'float32';
}

// Keras initializer class names -> tfjs-layers' (tfjs spells LeCun with a capital C).
const INITIALIZERS: Record<string, string> = {
  Zeros: 'Zeros', Ones: 'Ones', Constant: 'Constant', RandomNormal: 'RandomNormal', RandomUniform: 'RandomUniform',
  TruncatedNormal: 'TruncatedNormal', VarianceScaling: 'VarianceScaling', Orthogonal: 'Orthogonal', Identity: 'Identity',
  GlorotNormal: 'GlorotNormal', GlorotUniform: 'GlorotUniform', HeNormal: 'HeNormal', HeUniform: 'HeUniform',
  LecunNormal: 'LeCunNormal', LecunUniform: 'LeCunUniform', LeCunNormal: 'LeCunNormal', LeCunUniform: 'LeCunUniform',
  zeros: 'Zeros', ones: 'Ones', glorot_uniform: 'GlorotUniform', glorot_normal: 'GlorotNormal', he_normal: 'HeNormal',
  he_uniform: 'HeUniform', lecun_normal: 'LeCunNormal', lecun_uniform: 'LeCunUniform', orthogonal: 'Orthogonal',
  random_normal: 'RandomNormal', random_uniform: 'RandomUniform', truncated_normal: 'TruncatedNormal',
};
const CONSTRAINTS: Record<string, string> = { MaxNorm: 'MaxNorm', MinMaxNorm: 'MinMaxNorm', NonNeg: 'NonNeg', UnitNorm: 'UnitNorm' };

/**
 * An initializer, regularizer or constraint in tfjs's `{class_name, config}` form, or undefined when tfjs has no
 * equivalent. These only matter when training from scratch; a trained model's outputs never depend on them, so
 * an unknown one is dropped (tfjs's default applies) with a note rather than refusing the model.
 */
export function trainingObject(kind: 'initializer' | 'regularizer' | 'constraint', value: unknown, layer: string, key: string, ctx: KerasContext): Json | null | undefined {
  if (value === null || value === undefined) return null;
  const className = typeof value === 'string' ? value : isObject(value) ? value.class_name : undefined;
  const config = isObject(value) && isObject(value.config) ? { ...value.config } : {};
  let mapped: Json | undefined;
  if (kind === 'initializer' && typeof className === 'string' && INITIALIZERS[className]) {
    if (config.distribution === 'untruncated_normal') config.distribution = 'normal';
    mapped = { class_name: INITIALIZERS[className], config };
  } else if (kind === 'constraint' && typeof className === 'string' && CONSTRAINTS[className]) {
    mapped = { class_name: CONSTRAINTS[className], config };
  } else if (kind === 'regularizer' && (className === 'L1' || className === 'L2' || className === 'L1L2' || className === 'l1' || className === 'l2')) {
    const l1 = typeof config.l1 === 'number' ? config.l1 : 0;
    const l2 = typeof config.l2 === 'number' ? config.l2 : 0;
    mapped = { class_name: 'L1L2', config: { l1, l2 } };
  }
  if (!mapped) ctx.notes.push(`layer "${layer}": ${key} ${JSON.stringify(className)} has no tfjs equivalent and was dropped (it only affects training from scratch)`);
  return mapped;
}

/** Keras activation names -> tfjs's; the functions must be the same, or the layer is refused. */
export function activationName(value: unknown, layer: string, className: string, ctx: KerasContext): string {
  if (value === undefined || value === null) return 'linear';
  const name = typeof value === 'string' ? value : isObject(value) && typeof value.config === 'string' && value.class_name === 'function' ? value.config : undefined;
  if (name === undefined) {
    throw unsupported(layer, className, `uses a custom activation ${JSON.stringify(isObject(value) ? value.class_name ?? value : value)}`,
      'use a built-in Keras activation (relu, sigmoid, tanh, softmax, gelu, swish, …)');
  }
  const same = ['linear', 'relu', 'relu6', 'sigmoid', 'tanh', 'softmax', 'elu', 'selu', 'softplus', 'softsign', 'gelu', 'mish', 'swish'];
  if (same.includes(name)) return name;
  if (name === 'silu') return 'swish';
  // tfjs's hard_sigmoid is Keras 2's (0.2·x + 0.5); Keras 3 redefined it as relu6(x + 3) / 6.
  if (name === 'hard_sigmoid' && ctx.kerasMajor === 2) return 'hard_sigmoid';
  throw unsupported(layer, className, `uses activation "${name}"${name === 'hard_sigmoid' ? ' (Keras 3 defines it as relu6(x + 3) / 6, tfjs as 0.2·x + 0.5)' : ''}, which tfjs-layers does not compute the same way`,
    'replace it with one of linear, relu, relu6, sigmoid, tanh, softmax, elu, selu, softplus, softsign, gelu, mish, swish/silu');
}

/** Keras 3 writes numpy arrays and tuples as wrapper objects; plain JSON is what tfjs configs hold. */
export function plainValue(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainValue);
  if (isObject(value)) {
    if ((value.class_name === '__numpy__' || value.class_name === '__tensor__') && isObject(value.config)) return plainValue(value.config.value);
    if (value.class_name === '__tuple__' && isObject(value.config)) return plainValue(value.config.value);
    const out: Json = {};
    for (const [k, v] of Object.entries(value)) out[k] = plainValue(v);
    return out;
  }
  return value;
}
