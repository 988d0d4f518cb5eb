/**
 * Fine-tuning in the search, on NetAdapt's schedule (Yang et al., "NetAdapt: Platform-Aware Neural Network
 * Adaptation for Mobile Applications", ECCV 2018): the model shrinks in steps; after each step the pruned model is
 * reconstructed and given a *short-term* fine-tune (distillation from the input model) before it is judged, and
 * only the model the search ends with gets the *long-term* fine-tune. Where NetAdapt measures every layer's
 * proposal empirically to pick one per step, each step here takes the per-group allocation the sensitivity curves
 * give for the next size on the ladder — one candidate per step instead of one per layer.
 *
 * A step prunes the *current* (already pruned and fine-tuned) model: the allocation fixes how many channels each
 * group keeps (counted on the input model, so roundTo holds), and which ones go is decided by the criterion on
 * the current weights, as iterative pruning re-ranks after each fine-tune. Reconstruction targets the current
 * model's activations. The channels removed are tracked as the input model's classes, so sizes, the per-layer
 * report and the replayable history refer to the input model.
 */
import type { LabelledSet } from '../data/types.ts';
import { analyzeChannels, type ChannelAnalysis } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import type { Accuracy } from '../metrics.ts';
import { planFromRatios, sizeOfPlan, type Sizes } from './allocate.ts';
import { scoreClasses, type CriterionName } from './criteria.ts';
import { layerShapes } from './model-shapes.ts';
import { reconstructionTargets, type Reconstructor } from './reconstruct.ts';
import { keptIndices, removeChannels } from './remove-channels.ts';
import { allocationForFraction, type GroupSensitivity, type SearchSpace } from './search.ts';

/** The state a step starts from: a model derived from the input model by removing `removed` (input-model classes). */
export interface PrunedState {
  ir: ModelIR;
  removed: Set<number>;
}

export interface ProgressiveStep {
  /** The step's size goal (of the search metric, as a fraction of the input model). */
  goal: number;
  /** What the step's plan reached. */
  fraction: number;
  sizes: Sizes;
  /** Validation accuracy after reconstruction, and after the short fine-tune when one ran. */
  afterReconstruction: number;
  afterFineTune?: number;
  fineTuneSamples?: number;
  /** Validation accuracy of the model the step hands on (the best of reconstruction and the fine-tune rounds). */
  accuracy: number;
  /** `accuracy` ≥ the floor. */
  passed: boolean;
}

export interface ProgressiveContext {
  space: SearchSpace;
  sensitivity: GroupSensitivity[] | undefined;
  criterion: CriterionName;
  /** Calibration samples for data-driven criteria. */
  calibration: LabelledSet;
  /** A reconstructor whose teacher is `teacher` (the step's starting model); undefined: no reconstruction. */
  reconstructorFor(teacher: ModelIR): Promise<Reconstructor | undefined>;
  validate(ir: ModelIR): Promise<Accuracy>;
  /** The short-term fine-tune (distillation from the input model), or undefined when disabled. */
  shortFineTune?: (ir: ModelIR, step: number) => Promise<{ ir: ModelIR; samples: number }>;
  floor: number;
  log(message: string): void;
}

/** Short fine-tune rounds a step may take to reach the floor. */
const FINE_TUNE_ROUNDS = 3;

export interface StepOutcome {
  step: ProgressiveStep;
  state: PrunedState;
}

/**
 * One step from `from` to the allocation for `goal`. Undefined when the goal is out of reach or the step would
 * remove nothing new.
 */
export async function progressiveStep(from: PrunedState, goal: number, index: number, ctx: ProgressiveContext): Promise<StepOutcome | undefined> {
  const { space } = ctx;
  const ratios = allocationForFraction(space, ctx.sensitivity, goal);
  if (!ratios) return undefined;
  const target = planFromRatios(space.planner, ratios);
  const current = analyzeChannels(from.ir, await layerShapes(from.ir));
  const scores = await scoreClasses(ctx.criterion, { ir: from.ir, analysis: current, data: ctx.calibration, batchSize: 64 });
  const toCurrent = classMap(space.planner.analysis, current, from.removed);
  const added = new Set<number>();
  for (const g of space.planner.groups) {
    const wanted = g.classes.filter((k) => target.has(k)).length;
    const already = g.classes.filter((k) => from.removed.has(k)).length;
    const score = (k: number) => {
      const v = scores[toCurrent.get(k)!]!;
      return Number.isNaN(v) ? Number.POSITIVE_INFINITY : v;
    };
    const candidates = space.planner.order.get(g.id)!.filter((k) => !from.removed.has(k));
    // Least important on the current weights first; ties keep the input model's ranking.
    const ranked = candidates.map((k, i) => ({ k, i })).sort((a, b) => score(a.k) - score(b.k) || a.i - b.i);
    for (const { k } of ranked.slice(0, Math.max(0, wanted - already))) added.add(k);
  }
  if (added.size === 0) return undefined;
  const removed = new Set([...from.removed, ...added]);
  const removedNow = new Set([...added].map((k) => toCurrent.get(k)!));
  const pruned = removeChannels(from.ir, current, removedNow);
  const reconstructor = await ctx.reconstructorFor(from.ir);
  let ir = pruned;
  try {
    if (reconstructor) ir = (await reconstructor.run(pruned, reconstructionTargets(current, removedNow))).ir;
  } finally {
    reconstructor?.dispose();
  }
  const sizes = sizeOfPlan(space.ir, space.planner.analysis, removed, space.memo);
  const fraction = sizes[space.metric] / space.inputSizes[space.metric];
  const afterReconstruction = (await ctx.validate(ir)).accuracy;
  const step: ProgressiveStep = { goal, fraction, sizes, afterReconstruction, accuracy: afterReconstruction, passed: afterReconstruction >= ctx.floor - 1e-9 };
  if (ctx.shortFineTune) {
    // Every step gets a short fine-tune; one that still misses the floor gets one more round (a warm restart of
    // the same length) before it counts as failed: recovery is still climbing after one round.
    let [best, bestAccuracy, samples] = [ir, afterReconstruction, 0];
    for (let round = 0; round < FINE_TUNE_ROUNDS && (round === 0 || bestAccuracy < ctx.floor - 1e-9); round++) {
      const tuned = await ctx.shortFineTune(best, index * FINE_TUNE_ROUNDS + round);
      samples += tuned.samples;
      const accuracy = (await ctx.validate(tuned.ir)).accuracy;
      step.afterFineTune = accuracy;
      // The gate's metric decides which model the next round or step builds on.
      if (accuracy >= bestAccuracy) [best, bestAccuracy] = [tuned.ir, accuracy];
      else break;
    }
    if (samples > 0) step.fineTuneSamples = samples;
    ir = best;
    step.accuracy = bestAccuracy;
    step.passed = bestAccuracy >= ctx.floor - 1e-9;
  }
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  ctx.log(`step ${index + 1}: ${space.metric} ×${fraction.toFixed(3)}: val ${pct(afterReconstruction)} after reconstruction` +
    (step.afterFineTune !== undefined ? `, ${pct(step.afterFineTune)} after a ${step.fineTuneSamples}-sample fine-tune` : '') +
    (step.passed ? '' : ` — below the floor ${pct(ctx.floor)}`));
  return { step, state: { ir, removed } };
}

/**
 * Input-model class → class of the same channels in a model derived from it by removing `removed`: producers keep
 * their names and the order of the channels they keep, so the i-th kept channel of a producer is its i-th channel.
 */
export function classMap(original: ChannelAnalysis, current: ChannelAnalysis, removed: ReadonlySet<number>): Map<number, number> {
  const map = new Map<number, number>();
  for (const [producer, classes] of original.producerClasses) {
    const now = current.producerClasses.get(producer);
    if (!now) continue;
    const kept = keptIndices(classes, removed);
    if (kept.length !== now.length) throw new Error(`producer "${producer}" has ${now.length} channels, the pruning record says ${kept.length}`);
    kept.forEach((orig, i) => map.set(classes[orig]!, now[i]!));
  }
  return map;
}

/** Size goals for a descent to a target: `steps` geometric steps from `from` down to it. */
export function descentGoals(from: number, opts: { target: number; steps: number }): number[] {
  if (opts.target >= from) return [];
  return Array.from({ length: opts.steps }, (_, i) => from * (opts.target / from) ** ((i + 1) / opts.steps));
}

/**
 * The candidate for the long fine-tune among steps that failed: the smallest below `passedFraction` (where the last
 * passing model is) whose accuracy after its short fine-tune is still ≥ `reachFloor`; of equal sizes, the more accurate.
 */
export function nearMiss<T extends { step: ProgressiveStep }>(failed: T[], passedFraction: number, reachFloor: number): T | undefined {
  return failed
    .filter((f) => f.step.fraction < passedFraction && f.step.accuracy >= reachFloor - 1e-9)
    .sort((a, b) => a.step.fraction - b.step.fraction || b.step.accuracy - a.step.accuracy)[0];
}
