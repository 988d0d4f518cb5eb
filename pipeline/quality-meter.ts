/**
 * The run's quality on a set, accumulated batch by batch (measureQuality in evaluate.ts, and the shared-prefix
 * evaluation in evaluate-shared.ts, feed it): top-1 accuracy with mean cross-entropy, or 1 − relative MSE against
 * teacher outputs. Free of tfjs and onnxruntime, so every engine's outputs are scored by the same arithmetic.
 */
import type { Batch } from './data/splits.ts';
import type { LabelledSet } from './data/types.ts';
import { FidelityMeter } from './fidelity.ts';
import type { Accuracy } from './metrics.ts';

const EPS = 1e-7;

/**
 * measureQuality's arithmetic (evaluate.ts), fed one batch of outputs at a time (in the set's batch order), so that outputs computed
 * another way — a shared prefix and one suffix per candidate (pipeline/evaluate-shared.ts) — are scored identically.
 */
export function qualityMeter(set: LabelledSet): { add(out: Float32Array, batch: Batch): void; result(): Accuracy } {
  if (set.targets) {
    const meter = new FidelityMeter();
    return {
      add: (out, batch) => meter.add(out, batch.targets!),
      result() {
        const relativeMse = meter.relativeMse();
        return { accuracy: 1 - relativeMse, loss: relativeMse, count: set.count, relativeMse, psnr: meter.psnr() };
      },
    };
  }
  let correct = 0;
  let lossSum = 0;
  let seen = 0;
  let firstNonFinite: number | undefined;
  return {
    add(out, batch) {
      const classes = out.length / batch.size;
      for (let i = 0; i < batch.size; i++) {
        const raw = out.subarray(i * classes, (i + 1) * classes);
        if (firstNonFinite === undefined && !raw.every(Number.isFinite)) firstNonFinite = seen + i;
        const row = toProbabilities(raw);
        let best = 0;
        for (let c = 1; c < classes; c++) if (row[c]! > row[best]!) best = c;
        const label = batch.y[i]!;
        if (best === label) correct++;
        lossSum -= Math.log(Math.max(row[label] ?? 0, EPS));
      }
      seen += batch.size;
    },
    result: () => ({ accuracy: set.count ? correct / set.count : 0, loss: set.count ? lossSum / set.count : 0, count: set.count, ...(firstNonFinite === undefined ? {} : { firstNonFinite }) }),
  };
}

function toProbabilities(row: Float32Array): Float32Array {
  let sum = 0;
  let negative = false;
  for (const v of row) {
    sum += v;
    if (v < 0) negative = true;
  }
  if (!negative && Math.abs(sum - 1) < 1e-3) return row;
  const max = Math.max(...row);
  const exp = row.map((v) => Math.exp(v - max));
  const total = exp.reduce((a, b) => a + b, 0);
  return exp.map((v) => v / total);
}
