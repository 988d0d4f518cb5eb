/**
 * The activation names a Keras config may hold, as tfjs-layers resolves them: tfjs camel-cases the JSON string
 * (`hard_sigmoid` → `hardSigmoid`) and looks it up among its registered activations, so both spellings load.
 * `gelu_new` is left out: tfjs registers it under that snake_case name, which its own camel-casing never produces,
 * so a model.json naming it cannot be loaded by tfjs.
 */
export const ACTIVATION_NAMES = [
  'linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hard_sigmoid', 'tanh', 'softmax', 'log_softmax', 'softplus',
  'softsign', 'swish', 'mish', 'gelu',
] as const;

export type ActivationName = (typeof ACTIVATION_NAMES)[number];

/** The snake_case name of a Keras activation string, or undefined when tfjs would not know it. */
export function activationName(value: string): ActivationName | undefined {
  const snake = value.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return (ACTIVATION_NAMES as readonly string[]).includes(snake) ? (snake as ActivationName) : undefined;
}
