/**
 * How much a gate decision can be trusted: the validation set's size and origin, the 95% Wilson interval of each
 * gated accuracy, and a warning when the budget is smaller than the baseline's interval (± half-width): then a
 * stage can pass or fail on measurement noise alone.
 */
import { wilsonInterval, type Interval } from './confidence.ts';
import type { DataSplits, ValidationSource } from './data/types.ts';
import type { Metrics } from './metrics.ts';

export interface ValidationReport {
  /** Samples every search and gate measured on. */
  size: number;
  source: ValidationSource | { kind: 'unknown' };
  /** The confidence interval reported for each gated accuracy. */
  interval: { method: 'wilson'; level: 0.95 };
  /** The baseline's validation accuracy with its interval. */
  baseline: GatedAccuracy;
  /** Set when maxAccuracyDrop < the baseline interval's half-width. */
  warning?: string;
}

export interface GatedAccuracy extends Interval {
  valAccuracy: number;
}

/** A stage's gate: its validation accuracy with the interval, the floor it was held to, and whether the floor lies inside the interval. */
export interface StageGate extends GatedAccuracy {
  floor: number;
  passed: boolean;
  /** The floor lies inside the interval: the decision could have gone the other way on another validation sample. */
  closeCall: boolean;
}

const pt = (v: number) => `${(v * 100).toFixed(2)} pt`;

export function gatedAccuracy(valAccuracy: number, n: number): GatedAccuracy {
  return { valAccuracy, ...wilsonInterval(valAccuracy, n) };
}

export function stageGate(valAccuracy: number, n: number, floor: number, passed: boolean): StageGate {
  const g = gatedAccuracy(valAccuracy, n);
  return { ...g, floor, passed, closeCall: floor >= g.low && floor <= g.high };
}

export function validationReport(data: DataSplits, baseline: Metrics, maxAccuracyDrop: number): ValidationReport {
  const size = data.validation.count;
  const base = gatedAccuracy(baseline.valAccuracy, size);
  const report: ValidationReport = {
    size,
    source: data.validationSource ?? { kind: 'unknown' },
    interval: { method: 'wilson', level: 0.95 },
    baseline: base,
  };
  if (maxAccuracyDrop < base.halfWidth) {
    report.warning = `the budget (${pt(maxAccuracyDrop)}) is smaller than the ±${pt(base.halfWidth)} 95% interval of the baseline's ` +
      `validation accuracy on ${size.toLocaleString('en-US')} samples: gate decisions are within measurement noise; ` +
      `use a larger validation set (data.validation, validationFraction) or a larger budget`;
  }
  return report;
}
