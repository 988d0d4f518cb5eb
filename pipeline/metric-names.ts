/** The quality metrics' names, apart from quality.ts (which evaluates models) so reports render without tfjs. */
import type { QualityMetricId } from './quality.ts';

/** One line for logs and reasons: the metric's name. */
export const METRIC_NAMES: Record<QualityMetricId, string> = {
  accuracy: 'validation accuracy',
  agreement: 'top-1 agreement with the input model',
  'relative-mse': 'fidelity to the input model (1 − relative MSE)',
};
