/**
 * The `prune` stage: structured channel pruning that removes Conv2D filters and Dense units from the topology
 * and the weights (not masks), across dependency groups (residual Adds, Concatenates, depthwise layers,
 * Flatten → Dense). It scores channels with a criterion, decides how many each group loses (fixed ratios, a size
 * target, or a validation-driven search within the accuracy budget), removes them, refits the consumer layers by
 * least squares, and fine-tunes with distillation from the input model. Decisions use the validation split only.
 */
import { z } from 'zod';
import { subset } from '../pipeline/data/splits.ts';
import { SlimnetError } from '../pipeline/errors.ts';
import { analyzeChannels } from '../pipeline/graph/channel-groups.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { createPlanner, measureSizes, planFromRatios, type SizeMetric } from '../pipeline/prune/allocate.ts';
import { CRITERIA, criterionFallbacks, scoreClasses } from '../pipeline/prune/criteria.ts';
import { layerShapes } from '../pipeline/prune/model-shapes.ts';
import { createReconstructor, reconstructionTargets } from '../pipeline/prune/reconstruct.ts';
import { removeChannels, removedProducerChannels } from '../pipeline/prune/remove-channels.ts';
import { layerChanges, outcomeNotes, renderPruneDetails } from '../pipeline/prune/prune-report.ts';
import {
  allocationForFraction, explorer, newQueue, searchForTarget, searchSmallestPassing, sensitivityAnalysis, smallestPassing,
  planOfPoint, uniformRatios, type ExploredPoint, type GroupSensitivity, type SearchSpace,
} from '../pipeline/prune/search.ts';
import { createRng, deriveSeed, permutation } from '../pipeline/random.ts';
import type { StageContext, StageDefinition } from '../pipeline/stage.ts';
import { fineTune } from '../pipeline/train/fine-tune.ts';
import type { PruningHistory } from '../pipeline/prune/history.ts';
import { recover, type Recovered, type RecoveryContext } from '../pipeline/prune/recover.ts';
import { fineTuneOption, fineTuneSettings, testAccuracy } from '../pipeline/recovery/distill.ts';

const fraction = z.number().gt(0).lt(1);
const ratio = z.number().min(0).max(0.95);

const options = z.strictObject({
  criterion: z.enum(CRITERIA).default('l1').describe('channel importance: l1, l2, fpgm, bn-scale, taylor or activation'),
  ratio: ratio.optional().describe('share of every group\'s channels to remove; setting it skips the search'),
  layers: z.record(z.string(), ratio).default({}).describe('fixed ratios by producer layer name (0 keeps it intact); never searched'),
  target: z
    .strictObject({ params: fraction.optional(), macs: fraction.optional(), bytes: fraction.optional() })
    .refine((t) => Object.values(t).filter((v) => v !== undefined).length === 1, 'give exactly one of params, macs, bytes')
    .optional()
    .describe('size goal as a fraction of the input model, e.g. { params: 0.25 }'),
  search: z.boolean().default(true).describe('allocate per-group ratios from a validation sensitivity analysis; false: uniform (ratio 0.5 when neither ratio nor target is set)'),
  sensitivityRatios: z.array(z.number().gt(0).max(0.95)).min(1).default([0.25, 0.5, 0.75, 0.9]).describe('ratios tried per group in the sensitivity analysis'),
  maxRatio: ratio.default(0.9).describe('the most of any group the search may remove'),
  minChannels: z.number().int().positive().default(1).describe('channels every producer keeps at least'),
  refineSteps: z.number().int().min(0).default(2).describe('extra search points between the smallest passing size and the next one down'),
  fallbacks: z.number().int().min(0).default(2).describe('after a search, larger passing plans to try when the recovered model ends below the floor'),
  concurrency: z.number().int().positive().default(1).describe('candidate evaluations run at once (p-queue); tfjs-wasm and single-thread ORT gain little from more'),
  calibrationSamples: z.number().int().positive().default(1024).describe('training samples for reconstruction and data-driven criteria'),
  reconstruct: z.boolean().default(true).describe('refit each consumer layer by least squares on calibration activations after removal'),
  ridge: z.number().nonnegative().default(0.1).describe("ridge strength of the reconstruction, relative to the features' mean square"),
  fineTune: fineTuneOption,
}).refine((o) => o.ratio === undefined || o.target === undefined, { message: 'give either ratio or target, not both', path: ['ratio'] });
type Options = z.output<typeof options>;

export const pruneStage: StageDefinition<typeof options> = {
  name: 'prune',
  changesAccuracy: true,
  description: 'Remove whole channels (filters, units) across dependency groups, refit consumers by least squares, fine-tune by distillation.',
  options,
  create: (opts) => ({ name: 'prune', run: (ir, ctx) => runPrune(ir, ctx, opts) }),
  renderDetails: renderPruneDetails,
};

async function runPrune(ir: ModelIR, ctx: StageContext, opts: Options) {
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000;
  const analysis = analyzeChannels(ir, await layerShapes(ir));
  for (const u of analysis.unsupported) ctx.log(`layer "${u.layer}" (${u.className}) is not understood (${u.reason}); the channels it touches stay`);
  const calibration = subset(ctx.data.train, permutation(ctx.data.train.count, createRng(deriveSeed(ctx.seed, 'prune:calibration'))).slice(0, opts.calibrationSamples));
  const scores = await scoreClasses(opts.criterion, { ir, analysis, data: calibration, batchSize: 64 });
  const planner = createPlanner(analysis, scores, opts.minChannels);
  const fixed = fixedRatios(opts, planner.groups);
  const metric = (opts.target ? (Object.keys(opts.target).find((k) => opts.target![k as SizeMetric] !== undefined) as SizeMetric) : 'params');
  const space: SearchSpace = {
    ir, planner, fixed, metric, maxRatio: opts.maxRatio, inputSizes: measureSizes(ir), memo: new Map(),
    free: planner.groups.filter((g) => !fixed.has(g.id)),
  };
  ctx.log(`${planner.groups.length} prunable group(s): ${planner.groups.map((g) => `${g.name} (${g.classes.length - g.blocked.size}/${g.classes.length})`).join(', ') || 'none'}`);

  const reconstructor = opts.reconstruct
    ? await createReconstructor(ir, { calibration, batchSize: 256, ridge: opts.ridge, maxConvRows: 8192, seed: deriveSeed(ctx.seed, 'prune:reconstruct') })
    : undefined;
  try {
    const candidate = async (removed: Set<number>) => {
      const pruned = removeChannels(ir, analysis, removed);
      return reconstructor ? reconstructor.run(pruned, reconstructionTargets(analysis, removed)) : { ir: pruned, fits: [] };
    };
    const evaluate = async (removed: Set<number>) => ctx.evaluateCandidate((await candidate(removed)).ir);
    // The runner's share of the budget: search candidates (after reconstruction) and the final model (after
    // fine-tuning) must keep validation accuracy at or above it.
    const { floor, maxDrop: dropAllowed } = ctx.budget;
    const queue = newQueue(opts.concurrency);
    const explore = explorer(space, evaluate, queue);

    let sensitivity: GroupSensitivity[] | undefined;
    let explored: ExploredPoint[] = [];
    let ratios: Map<number, number> | undefined;
    let chosen: Set<number> | undefined;
    if (opts.ratio !== undefined) {
      ratios = uniformRatios(space, opts.ratio);
    } else if (opts.search && space.free.length > 0) {
      sensitivity = await sensitivityAnalysis(space, opts.sensitivityRatios, ctx.inputMetrics.valAccuracy, evaluate, queue);
      ctx.log(`sensitivity (${elapsed().toFixed(1)} s): ${sensitivity.map((s) => `${s.group} ${s.points.map((p) => `${p.ratio}:${(p.accuracy * 100).toFixed(1)}`).join(' ')}`).join('; ')}`);
      explored = opts.target
        ? await searchForTarget(space, sensitivity, opts.target[metric]!, explore, floor)
        : await searchSmallestPassing(space, sensitivity, explore, floor, opts.refineSteps);
      for (const p of explored) ctx.log(`candidate ${metric} ×${p.fraction.toFixed(3)} (${p.strategy}): val ${(p.accuracy * 100).toFixed(2)}% (smoothed ${(p.smoothedAccuracy * 100).toFixed(2)}%${p.passed ? '' : ', below floor'})`);
      const best = opts.target ? explored.slice().sort((a, b) => b.accuracy - a.accuracy)[0] : smallestPassing(explored);
      chosen = best && planOfPoint.get(best);
    } else if (opts.target) {
      ratios = allocationForFraction(space, undefined, opts.target[metric]!);
    } else {
      ratios = fixed.size > 0 ? new Map(fixed) : uniformRatios(space, 0.5);
    }
    if (opts.target && !ratios && !chosen) {
      throw new SlimnetError('CONFIG_INVALID', `prune.target.${metric}`, `a ${metric} fraction of ${opts.target[metric]} is out of reach (maxRatio ${opts.maxRatio}, minChannels ${opts.minChannels}, blocked channels stay)`, 'ask for a larger fraction or raise maxRatio');
    }
    // The chosen plan first; after a search, the next larger passing plans stand by in case recovery ends
    // below the floor (the floor is checked on the model that ships, after fine-tuning).
    const plans = chosen ? [chosen, ...fallbackPlans(explored, chosen, opts.target ? 0 : opts.fallbacks)] : ratios ? [planFromRatios(planner, ratios)] : [];
    if (plans.length === 0 || plans[0]!.size === 0) {
      const why = plans.length > 0 ? 'the plan removes no channel' : `no candidate kept validation accuracy ≥ ${(floor * 100).toFixed(2)}%`;
      ctx.log(`nothing pruned: ${why}`);
      return { ir, details: { criterion: opts.criterion, analysis: analysisSummary(analysis), sensitivity, explored, budget: { floor, maxAccuracyDrop: dropAllowed } }, notes: [`nothing pruned (${why})`] };
    }
    // Distillation fine-tuning trains on class probabilities; a regress model recovers by reconstruction only.
    const distils = ctx.quality.task === 'classify';
    if (opts.fineTune && !distils) ctx.log("fine-tuning skipped: its distillation loss is for classifiers (task 'regress' recovers by reconstruction)");
    const recoveryContext: RecoveryContext = {
      original: ir, analysis, reconstructor, fineTuner: fineTune, train: ctx.data.train, seed: deriveSeed(ctx.seed, 'prune:fine-tune'),
      fineTune: distils ? fineTuneSettings(opts.fineTune) : false,
      validate: (m) => ctx.evaluateCandidate(m), testAccuracy: (m) => testAccuracy(m, ctx.data.test), log: ctx.log, elapsed,
    };
    const attempts: { removed: Set<number>; result: Recovered }[] = [];
    for (const removed of plans) {
      const result = await recover(removed, recoveryContext);
      attempts.push({ removed, result });
      if (!chosen || result.valAccuracy >= floor - 1e-9) break;
      ctx.log(`recovered model ends at val ${(result.valAccuracy * 100).toFixed(2)}%, below the floor ${(floor * 100).toFixed(2)}%`);
    }
    // The last attempt passed (or was the last chance): then the most accurate attempt, preferring the latest.
    const final = attempts.at(-1)!.result.valAccuracy >= floor - 1e-9 ? attempts.at(-1)! : attempts.reduce((a, b) => (b.result.valAccuracy >= a.result.valAccuracy ? b : a));
    const outSizes = measureSizes(final.result.ir);
    const details = {
      criterion: opts.criterion,
      criterionFallbacks: criterionFallbacks(opts.criterion, analysis),
      analysis: analysisSummary(analysis),
      sizes: { before: space.inputSizes, after: outSizes },
      layers: layerChanges(ir, analysis, final.removed),
      budget: { floor, maxAccuracyDrop: dropAllowed },
      sensitivity,
      explored,
      recovery: final.result.steps,
      attempts: attempts.map((a) => ({ params: measureSizes(removeChannels(ir, analysis, a.removed)).params, steps: a.result.steps, fineTune: a.result.fineTune })),
      reconstruction: final.result.fits,
      fineTune: final.result.fineTune,
      discarded: final.result.discarded,
      history: { version: 1 as const, criterion: opts.criterion, removed: removedProducerChannels(analysis, final.removed) } satisfies PruningHistory,
      seconds: elapsed(),
    };
    return { ir: final.result.ir, details, notes: [...outcomeNotes(space.inputSizes, outSizes, final.result.steps, elapsed(), final.result.discarded), ...(opts.fineTune && !distils ? ["fine-tuning skipped: its distillation loss is for classifiers (task 'regress')"] : [])] };
  } finally {
    reconstructor?.dispose();
  }
}

/** Passing explored plans larger than the chosen one, smallest first. */
function fallbackPlans(explored: ExploredPoint[], chosen: Set<number>, count: number): Set<number>[] {
  const chosenPoint = explored.find((p) => planOfPoint.get(p) === chosen)!;
  return explored
    .filter((p) => p.passed && p.fraction > chosenPoint.fraction)
    .sort((a, b) => a.fraction - b.fraction)
    .slice(0, count)
    .map((p) => planOfPoint.get(p)!);
}

function fixedRatios(opts: Options, groups: SearchSpace['free']): Map<number, number> {
  const fixed = new Map<number, number>();
  for (const [layer, r] of Object.entries(opts.layers)) {
    const g = groups.find((x) => x.producers.includes(layer));
    if (!g) throw new SlimnetError('CONFIG_INVALID', `prune.layers.${layer}`, `"${layer}" is not a prunable layer of this model`, `prunable: ${groups.flatMap((x) => x.producers).join(', ') || 'none'}`);
    fixed.set(g.id, Math.max(fixed.get(g.id) ?? 0, r));
  }
  return fixed;
}

function analysisSummary(analysis: ReturnType<typeof analyzeChannels>) {
  return {
    groups: analysis.groups.map((g) => ({ name: g.name, channels: g.classes.length, blocked: g.blocked.size, blockedBy: [...new Set(g.blocked.values())], members: g.members })),
    unsupported: analysis.unsupported,
  };
}
