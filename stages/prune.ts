/**
 * The `prune` stage: structured channel pruning that removes Conv2D filters and Dense units from the topology
 * and the weights (not masks), across dependency groups (residual Adds, Concatenates, depthwise layers,
 * Flatten → Dense). It scores channels with a criterion, decides how many each group loses (fixed ratios, a size or
 * latency target, or a validation-driven search within the accuracy budget), removes them, refits the consumer
 * layers by least squares, and fine-tunes with distillation from the input model. The search lets short
 * fine-tunes into the loop (NetAdapt's schedule, pipeline/prune/progressive.ts). Decisions use the validation split
 * only; memory follows `memoryBudgetMB` and time follows budgets of work (evaluations, samples), never the clock.
 */
import { z } from 'zod';
import type { ModelIR } from '../pipeline/ir.ts';
import { CRITERIA } from '../pipeline/prune/criteria.ts';
import { fineTuneOption } from '../pipeline/recovery/distill.ts';
import { renderPruneDetails } from '../pipeline/prune/prune-report.ts';
import { runPrune } from '../pipeline/prune/run-prune.ts';
import type { StageContext, StageDefinition } from '../pipeline/stage.ts';

const fraction = z.number().gt(0).lt(1);
const ratio = z.number().min(0).max(0.95);

const progressiveOptions = z.strictObject({
  steps: z.number().int().min(1).default(4).describe('most shrink steps after the smallest model that passes without fine-tuning'),
  fineTuneSamples: z.number().int().positive().default(4096).describe('samples of the short distillation fine-tune after each step'),
  reach: z.number().min(0).default(1)
    .describe("how far below the floor (in multiples of the stage's allowed drop) a step may end after its short fine-tune and still get the long fine-tune first; 0: never"),
});

const options = z.strictObject({
  criterion: z.enum(CRITERIA).default('l1').describe('channel importance: l1, l2, fpgm, bn-scale, taylor or activation'),
  ratio: ratio.optional().describe('share of every group\'s channels to remove; setting it skips the search'),
  layers: z.record(z.string(), ratio).default({}).describe('fixed ratios by producer layer name (0 keeps it intact); never searched'),
  target: z
    .strictObject({ params: fraction.optional(), macs: fraction.optional(), bytes: fraction.optional(), latency: fraction.optional() })
    .refine((t) => Object.values(t).filter((v) => v !== undefined).length === 1, 'give exactly one of params, macs, bytes, latency')
    .optional()
    .describe('goal as a fraction of the input model, e.g. { params: 0.25 } or { latency: 0.6 } (batch-1 onnxruntime latency)'),
  search: z.boolean().default(true).describe('allocate per-group ratios from a validation sensitivity analysis; false: uniform (ratio 0.5 when neither ratio nor target is set)'),
  roundTo: z.number().int().positive().default(4).describe('every pruned group keeps a multiple of this many channels (Torch-Pruning round_to); 1: any count'),
  sensitivityRatios: z.array(z.number().gt(0).max(0.95)).min(1).default([0.25, 0.5, 0.75, 0.9]).describe('ratios tried per group in the sensitivity analysis'),
  sensitivitySamples: z.number().int().positive().default(1024).describe('validation samples (a fixed stratified sample) the sensitivity analysis measures on'),
  maxCandidates: z.number().int().positive().default(64).describe('most candidate evaluations of the search (sensitivity, size ladder, progressive steps)'),
  maxRatio: ratio.default(0.9).describe('the most of any group the search may remove'),
  minChannels: z.number().int().positive().default(1).describe('channels every producer keeps at least'),
  refineSteps: z.number().int().min(0).default(2).describe('extra search points between the smallest passing size and the next one down'),
  progressive: z.union([z.literal(false), progressiveOptions]).prefault({}).describe('shrink further in steps with a short fine-tune each (NetAdapt), or false'),
  fallbacks: z.number().int().min(0).default(2).describe('after a search, larger passing models to try when the recovered model ends below the floor'),
  sharedPrefix: z.boolean().default(true).describe('sensitivity candidates share the input model\'s forward pass up to the group they prune (onnxruntime); false: each runs whole'),
  concurrency: z.number().int().positive().optional().describe('candidate evaluations at once (default: the number of cores, as far as memoryBudgetMB allows)'),
  calibrationSamples: z.number().int().positive().default(1024).describe('training samples for reconstruction and data-driven criteria'),
  reconstruct: z.boolean().default(true).describe('refit each consumer layer by least squares on calibration activations after removal'),
  reconstructionRows: z.number().int().min(64).default(8192).describe('most sampled positions (rows) one layer\'s refit uses; memoryBudgetMB may lower it'),
  reconstructionPasses: z.number().int().positive().default(8).describe('most calibration passes one reconstruction makes; deeper chains share passes between consecutive consumers'),
  ridge: z.number().nonnegative().default(0.1).describe("ridge strength of the reconstruction, relative to the features' mean square"),
  fineTune: fineTuneOption,
}).refine((o) => o.ratio === undefined || o.target === undefined, { message: 'give either ratio or target, not both', path: ['ratio'] });
export type PruneOptions = z.output<typeof options>;

export const pruneStage: StageDefinition<typeof options> = {
  name: 'prune',
  changesAccuracy: true,
  description: 'Remove whole channels (filters, units) across dependency groups, refit consumers by least squares, fine-tune by distillation.',
  options,
  create: (opts) => ({ name: 'prune', run: (ir: ModelIR, ctx: StageContext) => runPrune(ir, ctx, opts) }),
  renderDetails: renderPruneDetails,
  retiredOptions: {
    latency: 'the runner times every stage\'s model against the baseline (report.json stages[].latency; config evaluation.latency): remove the option',
  },
};
