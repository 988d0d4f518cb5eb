/**
 * What "quality" means for a run, and the teacher that defines it when the data has no labels. One number, higher is
 * better, is what every gate and search compares (`Accuracy.accuracy`, `Metrics.valAccuracy`):
 *
 * | task | labels | metric | quality | baseline |
 * |---|---|---|---|---|
 * | classify | data | `accuracy` | top-1 accuracy against the data's labels | the model's accuracy |
 * | classify | teacher (or none in the data) | `agreement` | top-1 agreement with the input model | 1 |
 * | regress | teacher (always) | `relative-mse` | 1 − relative MSE of the outputs against the input model's | 1 |
 *
 * The budget (`budget.maxAccuracyDrop`) is in the metric's units: accuracy points, agreement points, or relative MSE
 * (Σ(out − teacher)² / Σ teacher², over the split). PSNR against the teacher is reported beside relative MSE.
 * The teacher is always the model slimnet was given, so fidelity is measured against it at every stage and the
 * budget stays cumulative, like accuracy.
 */
import { SlimnetError } from './errors.ts';
import type { DataSplits, LabelledSet } from './data/types.ts';
import { fingerprintSplits } from './data/splits.ts';
import { predictSet, type Predictor } from './evaluate.ts';
import { createHash } from 'node:crypto';

export type Task = 'classify' | 'regress';
export type LabelSource = 'data' | 'teacher';
export type QualityMetricId = 'accuracy' | 'agreement' | 'relative-mse';

export interface QualitySetting {
  task: Task;
  labels: LabelSource;
  metric: QualityMetricId;
}

/** The labels and metric for a config's task and labels setting, given whether the data has labels. */
export function resolveQuality(task: Task, labels: LabelSource | undefined, dataLabelled: boolean): QualitySetting {
  if (task === 'regress') {
    if (labels === 'data') {
      throw new SlimnetError('CONFIG_INVALID', 'labels', "task 'regress' is measured against the input model's outputs; regression targets from the data are not supported",
        "remove labels (or set labels: 'teacher')");
    }
    return { task, labels: 'teacher', metric: 'relative-mse' };
  }
  if (labels === 'data' && !dataLabelled) {
    throw new SlimnetError('CONFIG_INVALID', 'labels', "labels: 'data' but the data has no labels", "give labels in the data, or set labels: 'teacher' to measure agreement with the input model");
  }
  const source = labels ?? (dataLabelled ? 'data' : 'teacher');
  return { task, labels: source, metric: source === 'data' ? 'accuracy' : 'agreement' };
}

/**
 * The splits labelled by the teacher (the input model) for a fidelity metric: its top-1 class as y (agreement), or its
 * outputs as targets (relative MSE). The fingerprint then covers the teacher's labels too.
 */
export async function labelWithTeacher(data: DataSplits, quality: QualitySetting, teacher: Predictor, batchSize: number): Promise<DataSplits> {
  if (quality.labels !== 'teacher') return data;
  const label = async (set: LabelledSet): Promise<LabelledSet> => {
    const outputs = await predictSet(teacher, set, batchSize);
    if (quality.metric === 'relative-mse') return { ...set, targets: outputs };
    const classes = set.count ? outputs.length / set.count : 0;
    const y = new Int32Array(set.count);
    for (let i = 0; i < set.count; i++) {
      let best = 0;
      for (let c = 1; c < classes; c++) if (outputs[i * classes + c]! > outputs[i * classes + best]!) best = c;
      y[i] = best;
    }
    return { ...set, y, numClasses: classes };
  };
  const labelled = { train: await label(data.train), validation: await label(data.validation), test: await label(data.test) };
  const fingerprint = createHash('sha256').update(data.fingerprint).update(quality.metric)
    .update(fingerprintSplits(labelled, { validationFraction: 0, seed: 0 })).digest('hex');
  return { ...data, ...labelled, fingerprint };
}

export { METRIC_NAMES } from './metric-names.ts';
