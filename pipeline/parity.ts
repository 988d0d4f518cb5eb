/** Agreement between two models' outputs on the same samples: what every export is checked with. */
export interface ParityResult {
  samples: number;
  /** Fraction of samples whose top-1 class agrees. */
  top1Agreement: number;
  maxAbsDiff: number;
  /** The artifact's own top-1 accuracy against the labels. */
  accuracy: number;
}

export function compareOutputs(reference: Float32Array, candidate: Float32Array, labels: Int32Array): ParityResult {
  if (reference.length !== candidate.length) {
    throw new Error(`parity: output sizes differ (${reference.length} vs ${candidate.length})`);
  }
  const samples = labels.length;
  const classes = samples ? reference.length / samples : 0;
  let agree = 0;
  let correct = 0;
  let maxAbsDiff = 0;
  for (let i = 0; i < samples; i++) {
    const a = argmax(reference, i * classes, classes);
    const b = argmax(candidate, i * classes, classes);
    if (a === b) agree++;
    if (b === labels[i]) correct++;
  }
  for (let j = 0; j < reference.length; j++) {
    const d = Math.abs(reference[j]! - candidate[j]!);
    // NaN must fail parity, and Math.max would propagate it silently as "NaN > threshold" is false.
    maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
  }
  return { samples, top1Agreement: samples ? agree / samples : 1, maxAbsDiff, accuracy: samples ? correct / samples : 0 };
}

function argmax(values: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let c = 1; c < length; c++) if (values[offset + c]! > values[offset + best]!) best = c;
  return best;
}
