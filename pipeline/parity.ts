/**
 * Parity between two prediction arrays of the same samples (reference = the IR on tfjs, candidate = an
 * exported artifact): top-1 agreement, max |Δ|, and accuracy against labels when given.
 */
export interface ParityReport {
  samples: number;
  /** Fraction of samples whose arg-max class agrees. */
  top1Agreement: number;
  /** Largest absolute difference over all output values; Infinity if either side has NaN where the other has not. */
  maxAbsDiff: number;
  /** Candidate's top-1 accuracy against `labels` (only when labels were given). */
  accuracy?: number;
  /** Reference's top-1 accuracy against `labels` (only when labels were given). */
  referenceAccuracy?: number;
}

export interface ParityInput {
  reference: Float32Array;
  candidate: Float32Array;
  /** Number of samples; the row size is length / samples. */
  samples: number;
  labels?: Int32Array;
}

function argmax(values: Float32Array, offset: number, length: number): number {
  let best = 0;
  for (let c = 1; c < length; c++) if (values[offset + c] > values[offset + best]) best = c;
  return best;
}

export function checkParity({ reference, candidate, samples, labels }: ParityInput): ParityReport {
  if (reference.length !== candidate.length) {
    throw new Error(`parity: output sizes differ (${reference.length} vs ${candidate.length})`);
  }
  if (labels && labels.length !== samples) throw new Error(`parity: ${labels.length} labels for ${samples} samples`);
  const row = samples ? reference.length / samples : 0;
  if (!Number.isInteger(row)) throw new Error(`parity: ${reference.length} values do not split into ${samples} rows`);
  let maxAbsDiff = 0;
  for (let i = 0; i < reference.length; i++) {
    const a = reference[i];
    const b = candidate[i];
    if (Number.isNaN(a) && Number.isNaN(b)) continue;
    const d = Math.abs(a - b);
    // NaN on one side must fail any threshold; `NaN > max` is false, so say Infinity.
    maxAbsDiff = Number.isNaN(d) ? Infinity : Math.max(maxAbsDiff, d);
  }
  let agree = 0;
  let correct = 0;
  let referenceCorrect = 0;
  for (let s = 0; s < samples; s++) {
    const r = argmax(reference, s * row, row);
    const c = argmax(candidate, s * row, row);
    if (r === c) agree++;
    if (labels && c === labels[s]) correct++;
    if (labels && r === labels[s]) referenceCorrect++;
  }
  const report: ParityReport = { samples, top1Agreement: samples ? agree / samples : 1, maxAbsDiff };
  if (labels) {
    report.accuracy = samples ? correct / samples : 0;
    report.referenceAccuracy = samples ? referenceCorrect / samples : 0;
  }
  return report;
}
