/**
 * How sure a gate decision is. Accuracy on n validation samples is a binomial proportion; its 95% Wilson score
 * interval (Wilson 1927) stays inside [0, 1] and is honest near 100% and for small n, where the normal
 * approximation (p ± 1.96·√(p(1−p)/n)) collapses to a zero-width interval.
 */

/** z for a two-sided 95% interval. */
const Z95 = 1.959963984540054;

export interface Interval {
  low: number;
  high: number;
  /** (high − low) / 2: the "±" a reader compares budgets with. */
  halfWidth: number;
}

/** The 95% Wilson score interval of an accuracy measured on `n` samples. */
export function wilsonInterval(accuracy: number, n: number, z = Z95): Interval {
  if (!(n > 0)) return { low: 0, high: 1, halfWidth: 0.5 };
  const p = Math.min(1, Math.max(0, accuracy));
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const center = (p + z2 / (2 * n)) / denominator;
  const spread = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  const low = Math.max(0, center - spread);
  const high = Math.min(1, center + spread);
  return { low, high, halfWidth: (high - low) / 2 };
}
