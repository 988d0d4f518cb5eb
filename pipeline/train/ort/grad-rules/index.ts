/** The layer rules ORT training covers, one table keyed by Keras class name (InputLayer is a graph input). */
import { convRules } from './conv.ts';
import { denseRules } from './dense.ts';
import { mergeRules } from './merge.ts';
import { normalizationRules } from './normalization.ts';
import { poolingRules } from './pooling.ts';
import { reshapingRules } from './reshaping.ts';
import type { LayerRule } from './types.ts';

export const LAYER_RULES: Readonly<Record<string, LayerRule<any>>> = {
  ...convRules,
  ...denseRules,
  ...normalizationRules,
  ...poolingRules,
  ...reshapingRules,
  ...mergeRules,
};

export function ruleFor(className: string): LayerRule<any> | undefined {
  return Object.hasOwn(LAYER_RULES, className) ? LAYER_RULES[className] : undefined;
}

export const TRAINABLE_LAYER_CLASSES: readonly string[] = ['InputLayer', ...Object.keys(LAYER_RULES)].sort();
