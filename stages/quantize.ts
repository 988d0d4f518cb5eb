/**
 * The `quantize` stage: weights to int8 (per-channel, symmetric; default), uint8, uint16 or float16, kept in the IR's
 * weight storage so every export ships them (ONNX: INT8 initialisers + DequantizeLinear; TF.js: the manifest's
 * uint8/uint16/float16, chosen per weight by measured error; TFLite: int8). Biases and BatchNormalization stay float32.
 * Measured as shipped: the TF.js and ONNX artifacts are written, loaded back in stock tfjs and onnxruntime-node, and
 * their validation accuracy is what the budget gates; when one misses, a per-layer sensitivity pass sends the
 * costliest layers to higher precision until it holds. The report puts float and quantised side by side (bytes,
 * gzip bytes, validation/test accuracy per artifact, onnxruntime latency at batch 1 and 64 with the speed-up).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import type { Predictor } from '../pipeline/evaluate.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { interleavedLatency, type LatencySpread } from '../pipeline/latency.ts';
import { applyAssignment, tfjsWritten, type WeightAssignment } from '../pipeline/quantize/assign.ts';
import { layerSensitivity, raiseNext, type LayerSensitivity } from '../pipeline/quantize/fallback.ts';
import { planWeights } from '../pipeline/quantize/plan.ts';
import { renderQuantizeDetails, type QuantizeDetails, type WeightRow } from '../pipeline/quantize/report.ts';
import { measureShipped, SHIPPED_FORMATS, type ShippedFormat, type ShippedSet } from '../pipeline/quantize/shipped.ts';
import type { StageContext, StageDefinition, StageOutput } from '../pipeline/stage.ts';
import { describeStorage, storageSpec } from '../pipeline/weight-storage.ts';

const precision = z.enum(['int8', 'uint8', 'uint16', 'float16', 'float32']);

const options = z.strictObject({
  weights: z.enum(['int8', 'uint8', 'uint16', 'float16']).default('int8').describe('precision of kernels (biases and BatchNormalization stay float32)'),
  granularity: z.enum(['per-channel', 'per-tensor']).default('per-channel').describe('int8 scales: one per output channel (the family\'s axis) or one per tensor'),
  activations: z.enum(['none']).default('none').describe("activation quantisation: 'none' (weights only, dequantised at load). Static int8 QDQ is not implemented yet"),
  layers: z.record(z.string(), precision).default({}).describe('precision by layer name, glob ("conv*") or "layer/weight"; float32 keeps it unquantised'),
  tfjsMaxErrorRatio: z.number().min(1).default(2).describe('TF.js: an int8 weight ships as tfjs uint8 when its error is at most this × the int8 error, else uint16/float16'),
  fallback: z.boolean().default(true).describe('when an artifact misses the budget, raise the costliest layers to higher precision until it holds'),
  maxFallbackSteps: z.number().int().min(0).default(32).describe('most layers the fallback raises (one rung each)'),
  latencyRuns: z.number().int().min(0).default(30).describe('interleaved onnxruntime runs, float vs quantised, at batch 1 and 64 (0: none)'),
});
type QuantizeOptions = z.output<typeof options>;

export const quantizeStage: StageDefinition<typeof options> = {
  name: 'quantize',
  description: 'Quantise weights (per-channel int8, uint8/uint16/float16) into every export, measured as shipped, with per-layer fallback.',
  options,
  create: (opts) => ({ name: 'quantize', run: (ir, ctx) => runQuantize(ir, ctx, opts) }),
  renderDetails: (details) => renderQuantizeDetails(details as unknown as QuantizeDetails),
};

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export async function runQuantize(input: ModelIR, ctx: StageContext, opts: QuantizeOptions): Promise<StageOutput> {
  const floor = ctx.baseline.valAccuracy - ctx.maxAccuracyDrop;
  const assignment: WeightAssignment[] = planWeights(input, opts.weights, opts.layers).map((plan) => ({ plan, precision: plan.requested, raised: [] }));
  const build = () => applyAssignment(input, assignment, opts.granularity, opts.tfjsMaxErrorRatio);
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'slimnet-quantize-float-'));
  const keep: Partial<Record<'float' | 'quantized', Predictor>> = {};
  try {
    const float = await measureShipped(input, scratch, ctx, { withTest: true, keep: (f, p) => (f === 'onnx' ? (keep.float = p) : p.dispose()) });
    ctx.log(`float artifacts: tfjs ${float.tfjs.bytes} bytes (val ${pct(float.tfjs.valAccuracy)}), onnx ${float.onnx.bytes} bytes (val ${pct(float.onnx.valAccuracy)})`);
    let ir = build();
    let shipped = await measureShipped(ir, ctx.stageDir, ctx, { withTest: false });
    const misses = (s: ShippedSet) => SHIPPED_FORMATS.filter((f) => s[f].valAccuracy < floor - 1e-9);
    let sensitivity: LayerSensitivity[] | undefined;
    const steps: string[] = [];
    const turns = new Map<string, number>();
    while (opts.fallback && misses(shipped).length > 0 && steps.length < opts.maxFallbackSteps) {
      sensitivity ??= await layerSensitivity(input, ir, assignment, ctx);
      let changed = false;
      for (const format of misses(shipped)) {
        const why = `the ${format} artifact's validation accuracy ${pct(shipped[format].valAccuracy)} was below the floor ${pct(floor)}`;
        const layer = raiseNext(sensitivity, assignment, format, turns, why);
        if (layer) {
          steps.push(`${layer} raised for ${format} (${why})`);
          ctx.log(`fallback: ${steps.at(-1)}`);
          changed = true;
        }
      }
      if (!changed) break;
      ir = build();
      shipped = await measureShipped(ir, ctx.stageDir, ctx, { withTest: false });
    }
    // The final artifacts: measured on test too (reported only), checked by the ONNX checker, ONNX kept for latency.
    shipped = await measureShipped(ir, ctx.stageDir, ctx, { withTest: true, check: true, keep: (f, p) => (f === 'onnx' ? (keep.quantized = p) : p.dispose()) });
    const latency = await compareLatency(keep.float!, keep.quantized!, ctx, opts.latencyRuns);
    const details = detailsOf(ir, assignment, float, shipped, floor, sensitivity, steps, latency, ctx.stageDir);
    const output: StageOutput = { ir, modelJson: path.relative(ctx.stageDir, shipped.tfjs.file), details: details as unknown as Record<string, unknown> };
    const notes = notesOf(details);
    if (notes.length > 0) output.notes = notes;
    const missed = misses(shipped);
    if (missed.length > 0) {
      output.verdict = { status: 'rejected', reason: missed.map((f) => `the quantised ${f} artifact's validation accuracy ${pct(shipped[f].valAccuracy)} is below the budget floor ${pct(floor)}`).join('; ') +
        (opts.fallback ? ' even after the fallback' : ' (fallback is off)') };
    }
    return output;
  } finally {
    keep.float?.dispose();
    keep.quantized?.dispose();
    await rm(scratch, { recursive: true, force: true });
  }
}

async function compareLatency(float: Predictor, quantized: Predictor, ctx: StageContext, runs: number): Promise<QuantizeDetails['latency']> {
  if (runs === 0) return undefined;
  const out: NonNullable<QuantizeDetails['latency']> = [];
  for (const batch of [1, 64]) {
    const [f, q] = (await interleavedLatency([float, quantized], ctx.data.test, runs, batch)) as [LatencySpread, LatencySpread];
    out.push({ batch, float: f, quantized: q, speedup: f.median / q.median });
    ctx.log(`onnxruntime batch ${batch}: float ${f.median.toFixed(3)} ms, quantised ${q.median.toFixed(3)} ms (×${(f.median / q.median).toFixed(2)})`);
  }
  return out;
}

function detailsOf(
  ir: ModelIR, assignment: WeightAssignment[], float: ShippedSet, quantized: ShippedSet, floor: number, sensitivity: LayerSensitivity[] | undefined,
  steps: string[], latency: QuantizeDetails['latency'], stageDir: string,
): QuantizeDetails {
  const rows: WeightRow[] = assignment.map((a) => {
    const w = ir.layers.find((l) => l.name === a.plan.layer)!.weights.find((x) => x.name === a.plan.weight)!;
    const row: WeightRow = {
      layer: a.plan.layer, weight: a.plan.weight, shape: [...w.shape], requested: a.plan.requested, stored: describeStorage(storageSpec(w)),
      tfjs: tfjsWritten(a),
    };
    if (a.plan.override) row.override = a.plan.override;
    if (a.tfjsChoice) row.error = a.tfjsChoice.error;
    const s = sensitivity?.find((x) => x.layer === a.plan.layer);
    if (s) row.sensitivity = s.cost;
    if (a.raised.length > 0) row.raised = a.raised;
    return row;
  });
  const rel = (s: ShippedSet) => Object.fromEntries(SHIPPED_FORMATS.map((f) => [f, { ...s[f], file: s[f].file.startsWith(stageDir) ? path.relative(stageDir, s[f].file) : undefined }])) as QuantizeDetails['float'];
  const out: QuantizeDetails = { floor, float: rel(float), quantized: rel(quantized), weights: rows, fallbackSteps: steps };
  if (latency) out.latency = latency;
  return out;
}

function notesOf(d: QuantizeDetails): string[] {
  const notes: string[] = [];
  for (const f of SHIPPED_FORMATS as readonly ShippedFormat[]) {
    notes.push(`${f}: ${d.quantized[f].bytes.toLocaleString('en-US')} bytes = ${(d.quantized[f].bytes / d.float[f].bytes).toFixed(3)}× float, ` +
      `test accuracy ${pct(d.quantized[f].testAccuracy ?? 0)} (float ${pct(d.float[f].testAccuracy ?? 0)}), loaded in its own runtime`);
  }
  const kept = d.weights.filter((w) => w.raised);
  if (kept.length > 0) notes.push(`kept at higher precision: ${kept.map((w) => `${w.layer}/${w.weight} (${w.stored}; tfjs ${w.tfjs})`).join(', ')}`);
  const slower = d.latency?.filter((l) => l.speedup < 1) ?? [];
  for (const l of slower) {
    notes.push(`onnxruntime runs the quantised ONNX model slower than the float one at batch ${l.batch} (speed-up ×${l.speedup.toFixed(2)}, median of interleaved runs): ` +
      'smaller, not faster, on this CPU');
  }
  return notes;
}
