/**
 * The prune stage's run, in order: channel analysis and scores → a work plan within the memory budget → the choice
 * of what to remove (fixed ratios; a size or latency target; or the search: sensitivity, a one-shot size ladder,
 * then progressive steps with short fine-tunes) → recovery of the chosen model (reconstruction, the long
 * fine-tune) with fallbacks → latency before/after. Every choice reads the validation split only.
 */
import type { PruneOptions } from '../../stages/prune.ts';
import { subset } from '../data/splits.ts';
import { SlimnetError } from '../errors.ts';
import { analyzeChannels, type ChannelAnalysis } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import { createRng, deriveSeed, permutation } from '../random.ts';
import type { StageContext, StageOutput } from '../stage.ts';
import { fineTune } from '../train/fine-tune.ts';
import { createPlanner, measureSizes, planFromRatios, type SizeMetric } from './allocate.ts';
import type { CalibrationSource } from '../recovery/calibration-rows.ts';
import { criterionFallbacks, scoreClasses } from './criteria.ts';
import type { PruningHistory } from './history.ts';
import { macsForLatency, onnxLatencyRatio, type LatencyGoal } from './latency-target.ts';
import { layerShapes } from './model-shapes.ts';
import { descentGoals, nearMiss, progressiveStep, type PrunedState, type ProgressiveContext, type ProgressiveStep } from './progressive.ts';
import { layerChanges, outcomeNotes } from './prune-report.ts';
import { createReconstructor, reconstructionTargets, type LayerFit, type Reconstructor } from './reconstruct.ts';
import { distill, fineTuneSettings, testAccuracy } from '../recovery/distill.ts';
import { recover, type Recovered, type RecoveryContext } from './recover.ts';
import { removeChannels, removedProducerChannels } from './remove-channels.ts';
import {
  allocationForFraction, explorer, largestGroups, newQueue, searchForTarget, searchSmallestPassing, sensitivityAnalysis, smallestPassing,
  planKey, planOfPoint, uniformRatios, SIZE_LADDER, type ExploredPoint, type GroupSensitivity, type SearchSpace,
} from './search.ts';
import { SearchedModels } from '../recovery/searched-models.ts';
import { sharedPlanEvaluator } from './shared-evaluation.ts';
import { planWork } from './work-plan.ts';
import { phaseTimes } from '../measure/phase-times.ts';

/** Share of maxCandidates the sensitivity analysis may use; the ladder and the steps share the rest. */
const SENSITIVITY_SHARE = 0.5;
/** A progress line at most this often (and at the end of each phase). */
const PROGRESS_SECONDS = 5;

export async function runPrune(ir: ModelIR, ctx: StageContext, opts: PruneOptions): Promise<StageOutput> {
  const clock = phaseTimes();
  const elapsed = clock.elapsed;
  const analysis = analyzeChannels(ir, await layerShapes(ir));
  for (const u of analysis.unsupported) ctx.log(`layer "${u.layer}" (${u.className}) is not understood (${u.reason}); the channels it touches stay`);
  const fineTuneBatch = opts.fineTune ? opts.fineTune.batchSize : 64;
  const work = planWork(ir, { memoryBudgetMB: ctx.memoryBudgetMB, concurrency: opts.concurrency, evalBatch: 256, trainBatch: fineTuneBatch, calibrationSamples: opts.calibrationSamples });
  // Distillation fine-tuning trains on class probabilities; a regress model recovers by reconstruction only.
  const distils = ctx.quality.task === 'classify';
  if (opts.fineTune && !distils) ctx.log("fine-tuning skipped: its distillation loss is for classifiers (task 'regress' recovers by reconstruction)");
  const settings = distils ? fineTuneSettings(opts.fineTune, work.trainBatch) : false;
  const order = permutation(ctx.data.train.count, createRng(deriveSeed(ctx.seed, 'prune:calibration'))).slice(0, opts.calibrationSamples);
  const calibration: CalibrationSource = { set: ctx.data.train, order };
  // Data-driven criteria read a bounded sample (copied); weight criteria read none.
  const criterionData = subset(ctx.data.train, opts.criterion === 'taylor' || opts.criterion === 'activation' ? order.slice(0, work.criterionSamples) : []);
  const scores = await scoreClasses(opts.criterion, { ir, analysis, data: criterionData, batchSize: 64 });
  const planner = createPlanner(analysis, scores, opts.minChannels, opts.roundTo);
  const fixed = fixedRatios(opts, planner.groups);
  const goal = opts.target ? (Object.keys(opts.target).find((k) => opts.target![k as keyof typeof opts.target] !== undefined) as SizeMetric | 'latency') : undefined;
  const metric: SizeMetric = goal === undefined ? 'params' : goal === 'latency' ? 'macs' : goal;
  const space: SearchSpace = { ir, planner, fixed, metric, maxRatio: opts.maxRatio, inputSizes: measureSizes(ir), memo: new Map(), free: planner.groups.filter((g) => !fixed.has(g.id)) };
  ctx.log(`${planner.groups.length} prunable group(s): ${planner.groups.map((g) => `${g.name} (${g.classes.length - g.blocked.size}/${g.classes.length})`).join(', ') || 'none'}`);
  ctx.log(`memory budget ${work.memoryBudgetMB} MB: ${work.concurrency} candidate(s) at once, inference batch ${work.evalBatch}` +
    (opts.fineTune ? `, fine-tune batch ${work.trainBatch}${work.trainBatch < fineTuneBatch && settings ? ` (lowered from ${fineTuneBatch}; learning rate ${settings.learningRate.toPrecision(2)})` : ''}` +
      `${settings && settings.batchNorm === 'moving' ? ', BatchNormalization statistics frozen while fine-tuning' : ''}` : ''));

  const newReconstructor = (teacher: ModelIR): Promise<Reconstructor> => createReconstructor(teacher, {
    calibration, ridge: opts.ridge, maxRows: opts.reconstructionRows, maxPasses: opts.reconstructionPasses, memoryBytes: work.reconstructBytes, cacheBytes: work.cacheBytes, seed: deriveSeed(ctx.seed, 'prune:reconstruct'),
  });
  const reconstructor = opts.reconstruct ? await newReconstructor(ir) : undefined;
  // Candidates measured on the whole validation split (the ladder's, a target's): recovery starts from them.
  const searchedModels = new SearchedModels<Set<number>, LayerFit>(work.searchedBytes, planKey);
  try {
    clock.lap('setup');
    // The runner's share of the budget: search candidates and the final model (after fine-tuning) must keep
    // validation quality at or above its floor.
    const { floor, maxDrop: dropAllowed } = ctx.budget;
    const queue = newQueue(work.concurrency);
    const build = async (removed: Set<number>) => {
      const pruned = removeChannels(ir, analysis, removed);
      return reconstructor ? reconstructor.run(pruned, reconstructionTargets(analysis, removed)) : { ir: pruned, fits: [] };
    };
    const candidate = async (removed: Set<number>) => (await build(removed)).ir;
    let evaluations = 0;
    const evaluate = (samples?: number) => async (removed: Set<number>) => {
      evaluations++;
      const built = await build(removed);
      const val = await ctx.evaluateCandidate(built.ir, { samples, batchSize: work.evalBatch });
      if (samples === undefined && reconstructor) searchedModels.set(removed, { ...built, val });
      return val;
    };
    const progress = progressLogger(ctx.log, elapsed);
    const explore = explorer(space, evaluate(), queue, progress('candidates'));
    const stepSamples = opts.progressive ? opts.progressive.fineTuneSamples : 0;
    const shortFineTune = settings && stepSamples > 0
      ? async (m: ModelIR, step: number) => {
        const r = await distill(m, {
          fineTuner: fineTune, settings: { ...settings, epochs: undefined, maxSeconds: undefined, maxSamples: stepSamples },
          train: ctx.data.train, teacher: ir, seed: deriveSeed(ctx.seed, `prune:step-fine-tune:${step}`), log: ctx.log, label: `step ${step + 1} fine-tune`,
        });
        return { ir: r.ir, samples: r.samples };
      }
      : undefined;
    const progressiveContext = (sens: GroupSensitivity[] | undefined): ProgressiveContext => ({
      space, sensitivity: sens, criterion: opts.criterion, calibration: criterionData, floor, log: ctx.log,
      reconstructorFor: async (teacher) => (opts.reconstruct ? newReconstructor(teacher) : undefined),
      validate: (m) => { evaluations++; return ctx.evaluateCandidate(m, { batchSize: work.evalBatch }); },
      shortFineTune,
    });

    let sensitivity: GroupSensitivity[] | undefined;
    let shared: ReturnType<typeof sharedPlanEvaluator> | undefined;
    let sensitivitySeconds: number | undefined;
    let explored: ExploredPoint[] = [];
    let steps: ProgressiveStep[] = [];
    let latencyGoal: LatencyGoal | undefined;
    /** Plans to recover, best first: a removal set, or a state the progressive search already brought here. */
    let plans: { removed: Set<number>; searched?: ModelIR }[] = [];
    if (opts.ratio !== undefined) {
      plans = [{ removed: planFromRatios(planner, uniformRatios(space, opts.ratio)) }];
    } else if (opts.search && space.free.length > 0) {
      const sensitivityBudget = Math.floor(opts.maxCandidates * SENSITIVITY_SHARE);
      // Too few evaluations for a point per group: the groups holding the most of the size metric are measured and
      // the others keep their channels; none at all: a uniform allocation.
      const analysed = largestGroups(space, sensitivityBudget);
      if (analysed.length < space.free.length) {
        ctx.log(analysed.length > 0
          ? `sensitivity: ${space.free.length} groups need more than ${sensitivityBudget} evaluations (maxCandidates ${opts.maxCandidates}); the ${analysed.length} holding the most ${metric} are measured, the others keep their channels`
          : `sensitivity skipped: no evaluations for it (maxCandidates ${opts.maxCandidates}); allocating uniformly`);
      }
      if (analysed.length > 0) {
        // The curves start from the input model measured on the same validation sample as the candidates.
        const base = opts.sensitivitySamples < ctx.data.validation.count
          ? (await ctx.evaluateCandidate(ir, { samples: opts.sensitivitySamples, batchSize: work.evalBatch })).accuracy
          : ctx.inputMetrics.valAccuracy;
        const sensitivityStarted = performance.now();
        // Each sensitivity candidate prunes one group: candidates share the input model's forward pass up to it.
        shared = opts.sharedPrefix ? sharedPlanEvaluator({
          ir, ctx, build: candidate, queue, samples: opts.sensitivitySamples, batchSize: work.evalBatch, concurrency: work.concurrency,
          onBuilt: progress('sensitivity candidates', opts.reconstruct ? 'pruned and reconstructed' : 'pruned'),
        }) : undefined;
        sensitivity = await sensitivityAnalysis({ ...space, free: analysed }, opts.sensitivityRatios, base, evaluate(opts.sensitivitySamples), queue, {
          maxEvaluations: sensitivityBudget, onEvaluated: progress('sensitivity candidates'),
          ...(shared ? { evaluateAll: (plans: Set<number>[], onEvaluated?: (done: number, total: number) => void) => { evaluations += plans.length; return shared!.evaluateAll(plans, onEvaluated); } } : {}),
        });
        sensitivitySeconds = (performance.now() - sensitivityStarted) / 1000;
        const reuse = shared?.summary();
        if (reuse) ctx.log(`sensitivity: ${reuse.suffixOnly}/${reuse.candidates} candidates ran only their suffix after a shared prefix (${reuse.chunks} prefix run(s) per batch); forward MACs ${reuse.macsWhole.toExponential(3)} → ${reuse.macsShared.toExponential(3)} (${(reuse.macsWhole / reuse.macsShared).toFixed(2)}× fewer)`);
        clock.lap('sensitivity');
        ctx.log(`sensitivity (${elapsed().toFixed(1)} s): ${sensitivity.map((s) => `${s.group} ${s.points.map((p) => `${p.ratio}:${(p.accuracy * 100).toFixed(1)}`).join(' ')}`).join('; ')}`);
      }
      const left = () => opts.maxCandidates - evaluations;
      let targetFraction = goal === undefined ? undefined : opts.target![goal]!;
      if (goal === 'latency') {
        latencyGoal = await macsForLatency(space, sensitivity, targetFraction!, onnxLatencyRatio(ir, subset(ctx.data.validation, [0]), space.inputSizes.macs), { log: ctx.log });
        targetFraction = latencyGoal.macsFraction;
        if (targetFraction === undefined) throw unreachable(opts, 'latency');
      }
      if (targetFraction !== undefined) {
        explored = await searchForTarget(space, sensitivity, targetFraction, explore, floor);
        const best = explored.slice().sort((a, b) => b.accuracy - a.accuracy)[0];
        if (!best) throw unreachable(opts, metric);
        plans = [{ removed: planOfPoint.get(best)! }];
        if (!best.passed && shortFineTune) {
          // One-shot misses the floor: approach the target in steps, each with a short fine-tune (NetAdapt).
          clock.lap('search');
          const descent = await descendToTarget({ ir, removed: new Set() }, descentGoals(1, { target: targetFraction, steps: opts.progressive ? opts.progressive.steps : 1 }), progressiveContext(sensitivity), left);
          steps = descent.steps;
          clock.lap('progressive');
          if (descent.states.length > 0) plans = [{ removed: descent.states.at(-1)!.removed, searched: descent.states.at(-1)!.ir }];
        }
      } else {
        const ladder = SIZE_LADDER.slice(0, Math.max(1, Math.min(SIZE_LADDER.length, left() - (opts.progressive ? opts.progressive.steps : 0) - opts.refineSteps)));
        explored = await searchSmallestPassing(space, sensitivity, explore, floor, Math.min(opts.refineSteps, Math.max(0, left() - ladder.length)), ladder);
        for (const p of explored) ctx.log(`candidate ${metric} ×${p.fraction.toFixed(3)} (${p.strategy}): val ${(p.accuracy * 100).toFixed(2)}% (smoothed ${(p.smoothedAccuracy * 100).toFixed(2)}%${p.passed ? '' : ', below floor'})`);
        const best = smallestPassing(explored);
        plans = best ? [{ removed: planOfPoint.get(best)! }, ...fallbackPlans(explored, best, opts.fallbacks).map((removed) => ({ removed }))] : [];
        if (opts.progressive && shortFineTune && left() > 0) {
          const chosen = best && planOfPoint.get(best)!;
          const start: PrunedState = chosen ? { ir: searchedModels.get(chosen)?.ir ?? await candidate(chosen), removed: chosen } : { ir, removed: new Set() };
          clock.lap('search');
          const descent = await descendWhilePassing(start, best ? best.fraction : 1, opts.progressive.steps, progressiveContext(sensitivity), left);
          clock.lap('progressive');
          steps = descent.steps;
          // A step that ended the descent close below the floor after its short fine-tune is the most promising
          // candidate for the long one (NetAdapt's long-term fine-tune recovers more than the short-term one): it
          // goes first, and if it still ends below the floor, the passing states follow.
          const near = nearMiss(descent.failed, descent.states.at(-1)?.fraction ?? (best ? best.fraction : 1), floor - opts.progressive.reach * dropAllowed);
          if (near) ctx.log(`step ${near.index + 1} (${metric} ×${near.step.fraction.toFixed(3)}, val ${(near.step.accuracy * 100).toFixed(2)}% after its short fine-tune) is within reach of the floor: the long fine-tune tries it first`);
          // Newest first; each passed after its short fine-tune. The one-shot plans stay as further fallbacks.
          plans = [
            ...(near ? [{ removed: near.state.removed, searched: near.state.ir }] : []),
            ...descent.states.reverse().map((s) => ({ removed: s.removed, searched: s.ir })), ...plans,
          ];
        }
      }
    } else if (goal !== undefined) {
      let fractionGoal = opts.target![goal]!;
      if (goal === 'latency') {
        latencyGoal = await macsForLatency(space, undefined, fractionGoal, onnxLatencyRatio(ir, subset(ctx.data.validation, [0]), space.inputSizes.macs), { log: ctx.log });
        if (latencyGoal.macsFraction === undefined) throw unreachable(opts, 'latency');
        fractionGoal = latencyGoal.macsFraction;
      }
      const ratios = allocationForFraction(space, undefined, fractionGoal);
      if (!ratios) throw unreachable(opts, metric);
      plans = [{ removed: planFromRatios(planner, ratios) }];
    } else {
      plans = [{ removed: planFromRatios(planner, fixed.size > 0 ? new Map(fixed) : uniformRatios(space, 0.5)) }];
    }

    clock.lap('search');
    const budget = { floor, maxAccuracyDrop: dropAllowed };
    const workDetails = { ...work, evaluations, maxCandidates: opts.maxCandidates, rowsPerFit: reconstructor ? rowsSummary(reconstructor, analysis) : undefined, prefixReuse: shared?.summary() };
    // Wall times vary run to run: the stage's timings, never its details. The sensitivity analysis's (with or without
    // the shared prefix), the stage's phases, and when each recovery step's measurement finished.
    const timings = (attempts: Recovered[] = [], shipped?: Recovered) => ({
      seconds: elapsed(),
      phases: clock.phases(),
      ...(sensitivitySeconds === undefined ? {} : { sensitivitySeconds, sharedPrefix: shared !== undefined }),
      ...(attempts.length > 0 ? { recovery: attempts.flatMap((a, attempt) => a.times.map((t) => ({ attempt, ...t }))) } : {}),
      ...(shipped?.fineTuneSeconds !== undefined ? { fineTuneSeconds: shipped.fineTuneSeconds } : {}),
    });
    if (plans.length === 0 || plans[0]!.removed.size === 0) {
      const why = plans.length > 0 ? 'the plan removes no channel' : `no candidate kept validation accuracy ≥ ${(floor * 100).toFixed(2)}%`;
      ctx.log(`nothing pruned: ${why}`);
      return { ir, details: { criterion: opts.criterion, analysis: analysisSummary(analysis), sensitivity, explored, progressive: steps, budget, work: workDetails }, notes: [`nothing pruned (${why})`], timings: timings() };
    }
    searchedModels.keepOnly(plans.map((p) => p.removed));
    const recoveryContext: RecoveryContext = {
      original: ir, analysis, reconstructor, reconstructed: (removed) => searchedModels.get(removed), fineTuner: fineTune, train: ctx.data.train, seed: deriveSeed(ctx.seed, 'prune:fine-tune'),
      fineTune: settings,
      validate: (m) => ctx.evaluateCandidate(m, { batchSize: work.evalBatch }), testAccuracy: (m) => testAccuracy(m, ctx.data.test, work.evalBatch), log: ctx.log, elapsed,
    };
    const searched = opts.search && opts.ratio === undefined && goal === undefined;
    const attempts: { removed: Set<number>; result: Recovered }[] = [];
    for (const plan of plans.slice(0, 1 + (searched ? opts.fallbacks + steps.length : 0))) {
      const result = await recover(plan.removed, recoveryContext, plan.searched);
      attempts.push({ removed: plan.removed, result });
      if (!searched || result.valAccuracy >= floor - 1e-9) break;
      ctx.log(`recovered model ends at val ${(result.valAccuracy * 100).toFixed(2)}%, below the floor ${(floor * 100).toFixed(2)}%`);
    }
    clock.lap('recovery');
    // The last attempt passed (or was the last chance): then the most accurate attempt, preferring the latest.
    const final = attempts.at(-1)!.result.valAccuracy >= floor - 1e-9 ? attempts.at(-1)! : attempts.reduce((a, b) => (b.result.valAccuracy >= a.result.valAccuracy ? b : a));
    const outSizes = measureSizes(final.result.ir);
    const details = {
      criterion: opts.criterion,
      criterionFallbacks: criterionFallbacks(opts.criterion, analysis),
      analysis: analysisSummary(analysis),
      sizes: { before: space.inputSizes, after: outSizes },
      layers: layerChanges(ir, analysis, final.removed),
      budget,
      work: { ...workDetails, evaluations },
      sensitivity,
      explored,
      progressive: steps,
      latencyTarget: latencyGoal,
      recovery: final.result.steps,
      attempts: attempts.map((a) => ({ params: measureSizes(removeChannels(ir, analysis, a.removed)).params, steps: a.result.steps, fineTune: a.result.fineTune })),
      reconstruction: final.result.fits,
      fineTune: final.result.fineTune,
      discarded: final.result.discarded,
      history: { version: 1 as const, criterion: opts.criterion, removed: removedProducerChannels(analysis, final.removed) } satisfies PruningHistory,
    };
    const skipped = opts.fineTune && !distils ? ["fine-tuning skipped: its distillation loss is for classifiers (task 'regress')"] : [];
    const notes = [...outcomeNotes(space.inputSizes, outSizes, final.result.steps, final.result.discarded), ...skipped];
    // The output's latency is the runner's (against the baseline, interleaved): the stage does not time it again.
    return { ir: final.result.ir, details, notes, timings: timings(attempts.map((a) => a.result), final.result) };
  } finally {
    searchedModels.clear();
    reconstructor?.dispose();
  }
}

/** Each step of the descent aims at this share of the size the previous step reached (15% smaller). */
const STEP_RATIO = 0.85;

/**
 * Progressive steps from `start` (at `fraction` of the input's size) while they pass: each aims 15% smaller than
 * where the last one ended; after the first step below the floor, one retry from the last passing model with half
 * the step, then the descent ends. Returns the steps and the states that passed, in order.
 */
async function descendWhilePassing(start: PrunedState, fraction: number, maxSteps: number, pc: ProgressiveContext, left: () => number) {
  const steps: ProgressiveStep[] = [];
  const states: (PrunedState & { fraction: number })[] = [];
  const failed: { index: number; step: ProgressiveStep; state: PrunedState }[] = [];
  let [state, at, ratio, retried] = [start, fraction, STEP_RATIO, false];
  for (let i = 0; steps.length < maxSteps && i < 4 * maxSteps; i++) {
    if (left() <= 0) {
      pc.log('progressive search stops: maxCandidates reached');
      break;
    }
    const goal = at * ratio;
    const outcome = await progressiveStep(state, goal, steps.length, pc);
    if (!outcome) {
      at = goal; // nothing new to remove at this size (channels come in roundTo steps): aim lower
      continue;
    }
    steps.push(outcome.step);
    if (outcome.step.passed) {
      states.push({ ...outcome.state, fraction: outcome.step.fraction });
      [state, at] = [outcome.state, outcome.step.fraction];
      continue;
    }
    failed.push({ index: steps.length - 1, step: outcome.step, state: outcome.state });
    if (retried) break;
    [retried, ratio] = [true, Math.sqrt(ratio)];
  }
  return { steps, states, failed };
}

/** Progressive steps through `goals` towards a target, on through failures; the last state is the result. */
async function descendToTarget(start: PrunedState, goals: number[], pc: ProgressiveContext, left: () => number) {
  const steps: ProgressiveStep[] = [];
  let state = start;
  for (const g of goals) {
    if (left() <= 0) break;
    const outcome = await progressiveStep(state, g, steps.length, pc);
    if (!outcome) continue;
    steps.push(outcome.step);
    state = outcome.state;
  }
  return { steps, states: steps.length > 0 ? [state] : [] };
}

/** "phase k/n (elapsed)" lines, at most every few seconds and at the last one. */
function progressLogger(log: (m: string) => void, elapsed: () => number) {
  return (label: string, verb = 'evaluated') => {
    let last = 0;
    return (done: number, total: number) => {
      if (done < total && elapsed() - last < PROGRESS_SECONDS) return;
      last = elapsed();
      log(`${label}: ${done}/${total} ${verb} (${elapsed().toFixed(1)} s)`);
    };
  };
}

/** Passing explored plans larger than the chosen one, smallest first. */
function fallbackPlans(explored: ExploredPoint[], chosen: ExploredPoint, count: number): Set<number>[] {
  return explored
    .filter((p) => p.passed && p.fraction > chosen.fraction)
    .sort((a, b) => a.fraction - b.fraction)
    .slice(0, count)
    .map((p) => planOfPoint.get(p)!);
}

function unreachable(opts: PruneOptions, metric: string): SlimnetError {
  const v = opts.target?.[metric as keyof NonNullable<PruneOptions['target']>];
  return new SlimnetError('CONFIG_INVALID', `prune.target.${metric}`, `a ${metric} fraction of ${v} is out of reach (maxRatio ${opts.maxRatio}, minChannels ${opts.minChannels}, roundTo ${opts.roundTo}, blocked channels stay)`, 'ask for a larger fraction or raise maxRatio');
}

function fixedRatios(opts: PruneOptions, groups: SearchSpace['free']): Map<number, number> {
  const fixed = new Map<number, number>();
  for (const [layer, r] of Object.entries(opts.layers)) {
    const g = groups.find((x) => x.producers.includes(layer));
    if (!g) throw new SlimnetError('CONFIG_INVALID', `prune.layers.${layer}`, `"${layer}" is not a prunable layer of this model`, `prunable: ${groups.flatMap((x) => x.producers).join(', ') || 'none'}`);
    fixed.set(g.id, Math.max(fixed.get(g.id) ?? 0, r));
  }
  return fixed;
}

function rowsSummary(r: Reconstructor, analysis: ChannelAnalysis): Record<string, number> {
  const out: Record<string, number> = {};
  for (const b of analysis.bindings) {
    if (b.role !== 'in' || b.layer in out) continue;
    const rows = r.rowsOf(b.layer);
    if (rows !== undefined) out[b.layer] = rows;
  }
  return out;
}

function analysisSummary(analysis: ChannelAnalysis) {
  return {
    groups: analysis.groups.map((g) => ({ name: g.name, channels: g.classes.length, blocked: g.blocked.size, blockedBy: [...new Set(g.blocked.values())], members: g.members })),
    unsupported: analysis.unsupported,
  };
}
