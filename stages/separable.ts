/**
 * The `separable` stage: replaces trained Conv2D layers by DepthwiseConv2D + 1×1 Conv2D pairs and Dense layers by
 * low-rank Dense pairs where the pair has fewer parameters and MACs (pipeline/separable/candidates.ts), initialised
 * to preserve the function (per-channel and truncated SVD, factorize.ts) and refitted by least squares on
 * calibration activations (refit-pairs.ts). A sensitivity pass on the validation split prices each layer and size;
 * layers are replaced greedily, cheapest accuracy cost per parameter saved first, as far as the stage's share of the
 * budget allows (search.ts); then optional distillation fine-tuning from the stage's input model. The plan one step
 * beyond the furthest passing one, when it missed the floor by little before fine-tuning, is fine-tuned first and
 * ships if that brings it above the floor (NetAdapt's long fine-tune of a near miss, as prune does). Decisions use
 * the validation split only; test accuracy is reported.
 */
import { z } from 'zod';
import { SlimnetError } from '../pipeline/errors.ts';
import { inferShapes } from '../pipeline/graph/shapes.ts';
import { cloneIR, type ModelIR } from '../pipeline/ir.ts';
import { megabytes, trainingBatch } from '../pipeline/memory.ts';
import type { Accuracy } from '../pipeline/metrics.ts';
import { measureSizes } from '../pipeline/prune/allocate.ts';
import { newQueue } from '../pipeline/prune/search.ts';
import { createRng, deriveSeed, permutation } from '../pipeline/random.ts';
import { distill, fineTuneHelped, fineTuneOption, fineTuneSettings, testAccuracy } from '../pipeline/recovery/distill.ts';
import type { FineTuneReport, StepTime } from '../pipeline/recovery/steps.ts';
import { survey, type Candidate } from '../pipeline/separable/candidates.ts';
import { refitPairs, TeacherRows, type PairFit, type RefitOptions } from '../pipeline/separable/refit-pairs.ts';
import { SearchedModels } from '../pipeline/recovery/searched-models.ts';
import { applyPlan, FactorCache, type Plan } from '../pipeline/separable/replace.ts';
import { layerOutcomes, renderSeparableDetails, separableNotes, type NearMissAttempt, type RecoveryStep } from '../pipeline/separable/report.ts';
import { furthestPassing, greedyPath, nearMiss, type LayerSensitivity, type PathStep } from '../pipeline/separable/search.ts';
import type { StageContext, StageDefinition } from '../pipeline/stage.ts';
import { evaluationBatch } from '../pipeline/stage-context.ts';
import { fineTune as fineTuneModel } from '../pipeline/train/fine-tune.ts';
import { phaseTimes } from '../pipeline/measure/phase-times.ts';

const options = z.strictObject({
  convolutions: z.boolean().default(true).describe('replace Conv2D layers (kernel > 1×1) by DepthwiseConv2D + 1×1 Conv2D'),
  dense: z.boolean().default(true).describe('replace Dense layers by Dense(r, linear, no bias) + Dense'),
  minSaving: z.number().min(1).default(1.5)
    .describe('a pair must have more than this many times fewer params and MACs than the layer (1: any saving): its extra layer and activations cost runtime a small saving does not repay'),
  roundTo: z.number().int().positive().default(1)
    .describe("the pair's inner width (Dense rank r, DepthwiseConv2D channels C·m) is a multiple of this: runtimes compute in blocks (onnxruntime's sgemm on AVX2: 16 columns), so a width off the block costs the whole block"),
  reach: z.number().min(0).default(1)
    .describe("the plan after the furthest passing one is fine-tuned first when it missed the floor by at most reach × the allowed drop before fine-tuning (0: never); it ships only if fine-tuning takes it to the floor"),
  layers: z.record(z.string(), z.union([z.literal(false), z.number().int().positive()])).default({})
    .describe('fixed choices by layer name: false keeps the layer, a number is its m (Conv2D) or r (Dense); never searched'),
  calibrationSamples: z.number().int().positive().default(1024).describe('training samples the refits read activations of'),
  refit: z.boolean().default(true).describe("refit each pair's second layer by least squares so the pair reproduces the original layer"),
  ridge: z.number().nonnegative().default(0.01).describe("ridge strength of the refit, relative to the features' mean square"),
  maxConvRows: z.number().int().positive().default(8192).describe('most rows one refit uses: sampled (image, output position) pairs of a convolution, samples of a Dense (fewer when memoryBudgetMB says so)'),
  concurrency: z.number().int().positive().default(1).describe('sensitivity evaluations run at once (p-queue)'),
  fineTune: fineTuneOption,
});
type Options = z.output<typeof options>;

export const separableStage: StageDefinition<typeof options> = {
  name: 'separable',
  changesAccuracy: true,
  description: 'Replace Conv2D by DepthwiseConv2D + 1×1 Conv2D and Dense by low-rank pairs where it pays, SVD-initialised, refitted, fine-tuned.',
  options,
  create: (opts) => ({ name: 'separable', run: (ir, ctx) => runSeparable(ir, ctx, opts) }),
  renderDetails: renderSeparableDetails,
};

async function runSeparable(ir: ModelIR, ctx: StageContext, opts: Options) {
  const clock = phaseTimes();
  const elapsed = clock.elapsed;
  const shapes = inferShapes(ir);
  const found = survey(ir, shapes, { convolutions: opts.convolutions, dense: opts.dense }, opts.minSaving, opts.roundTo);
  const { fixed, kept } = fixedChoices(opts, found.candidates, ir);
  const free = found.candidates.filter((c) => !fixed.has(c.layer) && !kept.has(c.layer));
  // The runner's share of the budget (cumulative: what earlier stages left unspent is ours too): every plan the
  // search keeps, and the fine-tuned model, stay at or above this validation floor.
  const { floor, maxDrop, share } = ctx.budget;
  const budget = { floor, maxAccuracyDrop: maxDrop, share, inputValAccuracy: ctx.inputMetrics.valAccuracy };
  ctx.log(`${found.candidates.length} replaceable layer(s): ${found.candidates.map((c) => `${c.layer} (${c.kind}, sizes ${c.options.map((o) => o.size).join('/')})`).join(', ') || 'none'}; floor val ${pct(floor)}`);
  for (const i of found.ineligible) ctx.log(`${i.layer} stays: ${i.reason}`);

  // Memory: refits hold sampled rows within a share of the budget (the input model's rows in a cache of their own),
  // inference and fine-tuning batches are lowered to fit it, and calibration images are gathered a batch at a time.
  const memory = megabytes(ctx.memoryBudgetMB);
  const calibration = { set: ctx.data.train, order: permutation(ctx.data.train.count, createRng(deriveSeed(ctx.seed, 'separable:calibration'))).slice(0, opts.calibrationSamples) };
  const refitOptions: RefitOptions = {
    calibration, batchSize: 256, ridge: opts.ridge, maxRows: opts.maxConvRows, memoryBytes: memory * FIT_SHARE, cacheBytes: memory * CACHE_SHARE, seed: deriveSeed(ctx.seed, 'separable:refit'),
  };
  const teacher = new TeacherRows(ir, found.candidates.filter((c) => !kept.has(c.layer)).map((c) => c.layer), refitOptions);
  const factors = new FactorCache(ir);
  const build = async (plan: Plan, keepInit = false) => {
    const { ir: replaced, pairs } = applyPlan(ir, plan, factors);
    const init = opts.refit && keepInit ? cloneIR(replaced) : replaced;
    const fits = opts.refit ? await refitPairs(ir, replaced, pairs, teacher, refitOptions) : [];
    return { init, ir: replaced, fits };
  };
  // Every plan the sensitivity pass and the plan search measure (replaced, refitted, validated) is kept within a
  // share of the budget: recovering a plan the search measured starts from that model, not from a second refit.
  const searched = new SearchedModels<Plan, PairFit>(memory * SEARCHED_SHARE, planKey);
  const measured = async (plan: Plan) => {
    const built = await build(plan);
    const val = await ctx.evaluateCandidate(built.ir);
    searched.set(plan, { ir: built.ir, fits: built.fits, val });
    return { ...built, val };
  };
  // Wall times vary run to run: the stage's timings (phases, when each recovery step finished), never its details.
  const times: StepTime[] = [];
  let fineTuneSeconds: number | undefined;
  const timings = () => ({ seconds: elapsed(), phases: clock.phases(), ...(times.length > 0 ? { recovery: times } : {}), ...(fineTuneSeconds !== undefined ? { fineTuneSeconds } : {}) });
  try {
    clock.lap('setup');
    // Sensitivity: one layer at a time, every size that pays (the fixed choices applied throughout).
    const queue = newQueue(opts.concurrency);
    const sensitivity: LayerSensitivity[] = await Promise.all(free.map(async (c) => ({
      layer: c.layer,
      points: await Promise.all(c.options.slice().reverse().map((o) => queue.add(async () => {
        const { fits, val } = await measured(new Map([...fixed, [c.layer, o.size]]));
        const fit = fits.find((f) => f.layer === c.layer);
        ctx.log(`sensitivity ${c.layer} ${c.kind === 'separable' ? 'm' : 'r'}=${o.size}: val ${pct(val.accuracy)}${fit ? `, output error ${fit.relErrorBefore.toExponential(2)} → ${fit.relErrorAfter.toExponential(2)}` : ''} (${elapsed().toFixed(1)} s)`);
        return { ...o, valAccuracy: val.accuracy, valLoss: val.loss, relErrorBefore: fit?.relErrorBefore, relErrorAfter: fit?.relErrorAfter };
      }))),
    })));

    clock.lap('sensitivity');
    const { steps, plans } = greedyPath(free, sensitivity, ctx.inputMetrics.valAccuracy);
    const fixedOnly = new Map(fixed);
    const withFixed = (p: Plan) => new Map([...fixedOnly, ...p]);
    const chosenIndex = await furthestPassing(steps, plans, floor, async (p) => {
      const acc = (await measured(withFixed(p))).val.accuracy;
      ctx.log(`plan ${[...p].map(([l, s]) => `${l}:${s}`).join(' ')}: val ${pct(acc)}`);
      return acc;
    });
    clock.lap('plans');
    // Distillation trains on class probabilities; a regress model recovers by the refit only.
    const distils = ctx.quality.task === 'classify';
    if (opts.fineTune && !distils) ctx.log("fine-tuning skipped: its distillation loss is for classifiers (task 'regress' recovers by the refit)");
    const settings = distils && opts.fineTune && fineTuneSettings(opts.fineTune, trainingBatch(ir, opts.fineTune.batchSize, memory * TRAIN_SHARE));
    const near = settings ? nearMiss(steps, chosenIndex, floor - opts.reach * maxDrop) : -1;
    // Plans to recover, in order, until one ends at or above the floor: the near miss, then the passing plan.
    const tries = [...(near >= 0 ? [near] : []), ...(chosenIndex >= 0 || fixedOnly.size > 0 ? [chosenIndex] : [])];
    const reasonsAt = (index: number) => {
      const reasons = stayReasons(free, sensitivity, steps, index, floor);
      for (const layer of kept) reasons.set(layer, 'kept by the layers option');
      return reasons;
    };
    const nothingReplaced = (why: string, extra: Record<string, unknown> = {}) => {
      ctx.log(`nothing replaced: ${why}`);
      clock.lap('recovery');
      return {
        ir,
        details: { budget, ineligible: found.ineligible, candidates: found.candidates, sensitivity, path: steps, ...extra, layers: layerOutcomes(ir, found, new Map(), [], reasonsAt(chosenIndex)) },
        notes: [`nothing replaced (${why})`],
        timings: timings(),
      };
    };
    if (tries.length === 0) return nothingReplaced(free.length === 0 ? 'no layer is replaceable' : `no replacement keeps validation accuracy ≥ ${pct(floor)}`);
    const planName = (index: number) => (index >= 0 ? [...withFixed(plans[index]!)] : [...fixedOnly]).map(([l, size]) => `${l}:${size}`).join(' ');
    if (near >= 0) ctx.log(`plan ${planName(near)} (val ${pct(steps[near]!.valAccuracy!)} before fine-tuning) is within reach of the floor ${pct(floor)}: fine-tuning tries it first`);

    /** Replacement, refit and fine-tuning of one plan, measured after each step. */
    const recoverPlan = async (plan: Plan, attempt: number) => {
      const recovery: RecoveryStep[] = [];
      /** `known`: the validation quality the search measured for this very model. */
      const measure = async (step: RecoveryStep['step'], model: ModelIR, known?: Accuracy): Promise<Accuracy> => {
        const val = known ?? await ctx.evaluateCandidate(model);
        const test = await testAccuracy(model, ctx.data.test, evaluationBatch(model, 256, ctx.memoryBudgetMB));
        recovery.push({ step, valAccuracy: val.accuracy, valLoss: val.loss, testAccuracy: test });
        times.push({ attempt, step, seconds: elapsed() });
        ctx.log(`after ${step}: val ${pct(val.accuracy)} (loss ${val.loss.toFixed(4)}), test ${pct(test)} (${elapsed().toFixed(1)} s)`);
        return val;
      };
      // The search measured this plan: its refitted model, and the SVD initialisation again (cheap: factors are cached).
      const known = searched.get(plan);
      const built = known ? { ...known, init: opts.refit ? applyPlan(ir, plan, factors).ir : known.ir } : await build(plan, true);
      if (opts.refit) await measure('replacement', built.init);
      let best = { ir: built.ir, val: await measure(opts.refit ? 'refit' : 'replacement', built.ir, known?.val) };
      let fineTune: FineTuneReport | undefined;
      if (settings) {
        const result = await distill(best.ir, { fineTuner: fineTuneModel, settings, teacher: ir, train: ctx.data.train, seed: deriveSeed(ctx.seed, 'separable:fine-tune'), log: ctx.log });
        const val = await measure('fine-tuning', result.ir);
        // Kept when it helped on validation and does not leave the floor (a passing plan's refit met it).
        const kept = fineTuneHelped(best.val, val) && val.accuracy >= floor - 1e-9;
        fineTune = { engine: result.engine, samples: result.samples, finalLoss: result.finalLoss, kept };
        fineTuneSeconds = result.seconds;
        if (kept) best = { ir: result.ir, val };
      }
      return { plan, fits: built.fits, recovery, fineTune, best };
    };
    searched.keepOnly(tries.map((index) => (index >= 0 ? withFixed(plans[index]!) : fixedOnly)));
    const attempts: NearMissAttempt[] = [];
    let shipped: Awaited<ReturnType<typeof recoverPlan>> | undefined;
    let shippedIndex = chosenIndex;
    for (const [attempt, index] of tries.entries()) {
      const result = await recoverPlan(index >= 0 ? withFixed(plans[index]!) : fixedOnly, attempt);
      const passed = result.best.val.accuracy >= floor - 1e-9;
      attempts.push({ planIndex: index, plan: Object.fromEntries(result.plan), recovery: result.recovery, passed });
      // The near miss ships only above the floor; the passing plan (or the fixed choices alone) as before: the
      // runner's gate judges it.
      if (passed || index !== near) {
        shipped = result;
        shippedIndex = index;
        break;
      }
      ctx.log(`plan ${planName(index)} reaches val ${pct(result.recovery.at(-1)!.valAccuracy)} after fine-tuning, below the floor ${pct(floor)}${chosenIndex >= 0 || fixedOnly.size > 0 ? ': the passing plan follows' : ''}`);
    }
    // Only a near miss was tried and it stayed below the floor: the input goes on unchanged.
    if (!shipped) return nothingReplaced(`no replacement keeps validation accuracy ≥ ${pct(floor)}, even the nearest miss after fine-tuning`, { nearMiss: attempts });
    const { plan, fits, recovery, fineTune: fineTuneReport, best } = shipped;
    const reasons = reasonsAt(shippedIndex);
    const sizes = { before: measureSizes(ir), after: measureSizes(best.ir) };
    const details = {
      budget,
      ineligible: found.ineligible,
      candidates: found.candidates,
      sensitivity,
      path: steps,
      ...(near >= 0 ? { nearMiss: attempts } : {}),
      plan: Object.fromEntries(plan),
      layers: layerOutcomes(ir, found, plan, fits, reasons),
      refit: fits,
      recovery,
      fineTune: fineTuneReport,
      sizes,
    };
    clock.lap('recovery');
    return { ir: best.ir, details, notes: separableNotes(sizes, plan, recovery), timings: timings() };
  } finally {
    searched.clear();
    teacher.clear();
  }
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** A plan's identity: its layers and sizes in name order. */
const planKey = (plan: Plan) => [...plan].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([l, s]) => `${l}:${s}`).join(' ');

/** Shares of memoryBudgetMB (as prune's work plan): one refit and its calibration pass; the input model's rows; fine-tuning. */
const FIT_SHARE = 0.15;
const CACHE_SHARE = 0.2;
/** The search's measured plans, for recovery (pipeline/recovery/searched-models.ts). */
const SEARCHED_SHARE = 0.1;
const TRAIN_SHARE = 0.75;

/** The `layers` option checked against the model: each name a replaceable layer, each size one that pays. */
function fixedChoices(opts: Options, candidates: Candidate[], ir: ModelIR): { fixed: Map<string, number>; kept: Set<string> } {
  const fixed = new Map<string, number>();
  const kept = new Set<string>();
  for (const [layer, choice] of Object.entries(opts.layers)) {
    const c = candidates.find((x) => x.layer === layer);
    if (!c) {
      const exists = ir.layers.some((l) => l.name === layer);
      throw new SlimnetError('CONFIG_INVALID', `separable.layers.${layer}`, exists ? `"${layer}" is not a replaceable layer (see the stage's ineligible list)` : `the model has no layer "${layer}"`,
        `replaceable: ${candidates.map((x) => x.layer).join(', ') || 'none'}`);
    }
    if (choice === false) kept.add(layer);
    else if (c.options.some((o) => o.size === choice)) fixed.set(layer, choice);
    else throw new SlimnetError('CONFIG_INVALID', `separable.layers.${layer}`, `${c.kind === 'separable' ? 'm' : 'r'} = ${choice} does not pay for this layer`, `sizes that pay: ${c.options.map((o) => o.size).join(', ')}`);
  }
  return { fixed, kept };
}

/** Why each searched layer that is not replaced (at all) stays. */
function stayReasons(free: Candidate[], sensitivity: LayerSensitivity[], steps: PathStep[], chosen: number, floor: number): Map<string, string> {
  const replaced = new Set(steps.slice(0, chosen + 1).map((s) => s.layer));
  const reasons = new Map<string, string>();
  const failing = chosen + 1 < steps.length ? steps.slice(chosen + 1).find((s) => s.valAccuracy !== undefined) : undefined;
  for (const c of free) {
    if (replaced.has(c.layer)) continue;
    const s = sensitivity.find((x) => x.layer === c.layer)!;
    const mildest = s.points[0]!;
    const unit = c.kind === 'separable' ? 'm' : 'r';
    if (mildest.valAccuracy < floor - 1e-9) {
      reasons.set(c.layer, `replacing it alone, even at ${unit} = ${mildest.size}, takes validation accuracy to ${pct(mildest.valAccuracy)}, below the floor ${pct(floor)}`);
    } else {
      reasons.set(c.layer, `the budget was spent on cheaper replacements first${failing ? ` (the next plan reached ${pct(failing.valAccuracy!)}, below the floor ${pct(floor)})` : ''}`);
    }
  }
  return reasons;
}
