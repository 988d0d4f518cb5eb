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
import type { ActivationCalibration, ModelIR } from '../pipeline/ir.ts';
import { applyAssignment, tfjsWritten, type WeightAssignment } from '../pipeline/quantize/assign.ts';
import { layerSensitivity, raiseNext, type LayerSensitivity } from '../pipeline/quantize/fallback.ts';
import { calibrateActivations, calibrationOptions, calibrationSamples } from '../pipeline/activation-calibration.ts';
import { asEncoded, chooseOnnxEncoding, encodingsFor, hasSymmetricInt8, timeAgainstFloat, type LatencyRow, type OnnxEncoding } from '../pipeline/quantize/onnx-encoding.ts';
import { planWeights } from '../pipeline/quantize/plan.ts';
import { renderQuantizeDetails, type QuantizeDetails, type QuantizeTimings, type WeightRow } from '../pipeline/quantize/report.ts';
import { measureShipped, SHIPPED_FORMATS, type ShippedFormat, type ShippedSet } from '../pipeline/quantize/shipped.ts';
import type { StageContext, StageDefinition, StageOutput } from '../pipeline/stage.ts';
import { describeStorage, storageSpec } from '../pipeline/weight-storage.ts';

const precision = z.enum(['int8', 'uint8', 'uint16', 'float16', 'float32']);

const options = z.strictObject({
  weights: z.enum(['int8', 'uint8', 'uint16', 'float16']).default('int8').describe('precision of kernels (biases and BatchNormalization stay float32)'),
  granularity: z.enum(['per-channel', 'per-tensor']).default('per-channel').describe('int8 scales: one per output channel (the family\'s axis) or one per tensor'),
  activations: z.enum(['none', 'int8']).default('int8').describe("'int8': calibrate activations on training samples (kept in the model for the TFLite int8 export; ONNX ships them as static QDQ with onnxEncoding 'qdq', or 'auto' when faster); 'none': weights only"),
  calibration: calibrationOptions.prefault({}).describe('activation calibration on a seeded draw of training samples (activations: int8)'),
  reduceRange: z.boolean().default(true).describe("static QDQ: weights in 7 bits (−63..63), so onnxruntime's u8s8 kernels on x86 without VNNI cannot overflow (onnxruntime's reduce_range)"),
  layers: z.record(z.string(), precision).default({}).describe('precision by layer name, glob ("conv*") or "layer/weight"; float32 keeps it unquantised'),
  tfjsMaxErrorRatio: z.number().min(1).default(2).describe('TF.js: an int8 weight ships as tfjs uint8 when its error is at most this × the int8 error, else uint16/float16'),
  fallback: z.boolean().default(true).describe('when an artifact misses the budget, raise the costliest layers to higher precision until it holds'),
  maxFallbackSteps: z.number().int().min(0).default(32).describe('most layers the fallback raises (one rung each)'),
  latencyRuns: z.number().int().min(0).default(30).describe('interleaved onnxruntime runs, float vs quantised, at batch 1 and 64 (0: none)'),
  // Default Cast+Mul: int8 bytes at float speed, and the same bytes on every run; 'auto' decides by timing, so two
  // clean builds may ship different files (a near-tie flipped the example's encoding between two runs).
  onnxEncoding: z.enum(['auto', 'DequantizeLinear', 'cast-mul', 'qdq']).default('cast-mul').describe('ONNX: int8 weights as Cast+Mul (folded by onnxruntime at load: float speed, reproducible), + DequantizeLinear, qdq (int8 activations too), or auto: the fastest that holds the budget, by measured speed (not byte-reproducible)'),
}).refine((o) => o.onnxEncoding !== 'qdq' || o.activations === 'int8', { message: "onnxEncoding 'qdq' needs activations: 'int8'", path: ['onnxEncoding'] });
type QuantizeOptions = z.output<typeof options>;

export const quantizeStage: StageDefinition<typeof options> = {
  name: 'quantize',
  changesAccuracy: true,
  description: 'Quantise weights (per-channel int8, uint8/uint16/float16) into every export, measured as shipped, with per-layer fallback.',
  options,
  create: (opts) => ({ name: 'quantize', run: (ir, ctx) => runQuantize(ir, ctx, opts) }),
  renderDetails: (details, timings) => renderQuantizeDetails(details as unknown as QuantizeDetails, timings as QuantizeTimings | undefined),
};

const pct = (x: number) => `${(x * 100).toFixed(2)}%`;

export async function runQuantize(input: ModelIR, ctx: StageContext, opts: QuantizeOptions): Promise<StageOutput> {
  const floor = ctx.budget.floor;
  const assignment: WeightAssignment[] = planWeights(input, opts.weights, opts.layers).map((plan) => ({ plan, precision: plan.requested, raised: [] }));
  const build = (reduceRange = false) => applyAssignment(input, assignment, opts.granularity, opts.tfjsMaxErrorRatio, reduceRange);
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
    // Activation calibration (int8), then the ONNX encoding (as configured; 'auto': by measured speed among those that
    // hold the floor), then the final artifacts: measured on test too (reported only), checked by the ONNX checker.
    // The static QDQ model has its own weights (7-bit with reduceRange) and so its own calibration; the weight-only
    // model's calibration stays with it for writers that quantise activations themselves (TFLite int8).
    const calibrate = async (model: ModelIR) => {
      const c = await calibrateActivations(model, calibrationSamples(ctx.data.train, opts.calibration.samples, ctx.seed), { method: opts.calibration.method, percentile: opts.calibration.percentile });
      ctx.log(`calibrated ${Object.keys(c.ranges).length} activation ranges (${c.method}, ${c.samples} training samples)`);
      return c;
    };
    let calibration: ActivationCalibration | undefined;
    let qdq: { ir: ModelIR; calibration: ActivationCalibration } | undefined;
    if (opts.activations === 'int8') calibration = await calibrate(ir);
    // The QDQ model only when it may ship.
    if (calibration && (opts.onnxEncoding === 'qdq' || opts.onnxEncoding === 'auto')) {
      // Only symmetric int8 weights have a 7-bit form (uint8/uint16/float16 ship as they are).
      const reduce = opts.reduceRange && hasSymmetricInt8(ir);
      const qdqIr = reduce ? build(true) : ir;
      qdq = { ir: qdqIr, calibration: reduce ? await calibrate(qdqIr) : calibration };
    }
    const modelFor = (e: OnnxEncoding) => (e === 'qdq' ? asEncoded(qdq!.ir, e, qdq!.calibration) : asEncoded(ir, e, calibration));
    let latency: LatencyRow[] | undefined;
    let candidates: QuantizeDetails['onnxCandidates'];
    let encoding: OnnxEncoding = opts.onnxEncoding === 'auto' ? 'DequantizeLinear' : opts.onnxEncoding;
    if (opts.onnxEncoding === 'auto') {
      const chosen = await chooseOnnxEncoding(keep.float!, encodingsFor(ir, calibration), modelFor, floor, scratch, ctx, opts.latencyRuns);
      ({ candidates, latency } = chosen);
      encoding = chosen.encoding ?? encoding;
    }
    ir = modelFor(encoding);
    shipped = await measureShipped(ir, ctx.stageDir, ctx, { withTest: true, check: true, keep: (f, p) => (f === 'onnx' ? (keep.quantized = p) : p.dispose()) });
    if (!latency && opts.latencyRuns > 0) latency = await timeAgainstFloat(keep.float!, keep.quantized!, ctx, opts.latencyRuns, encoding);
    const details = detailsOf(ir, assignment, float, shipped, floor, sensitivity, steps, ctx.stageDir);
    details.onnxEncoding = encoding;
    if (candidates) details.onnxCandidates = candidates;
    if (calibration) details.calibration = { method: calibration.method, samples: calibration.samples };
    const output: StageOutput = { ir, modelJson: path.relative(ctx.stageDir, shipped.tfjs.file), details: details as unknown as Record<string, unknown> };
    const notes = notesOf(details);
    if (notes.length > 0) output.notes = notes;
    // Timings differ run to run: kept out of details and notes (two identical runs give identical ones).
    if (latency) {
      const timingNotes = latencyNotes(details, latency);
      output.timings = { latency, ...(timingNotes.length > 0 ? { notes: timingNotes } : {}) } satisfies QuantizeTimings;
    }
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

function detailsOf(
  ir: ModelIR, assignment: WeightAssignment[], float: ShippedSet, quantized: ShippedSet, floor: number, sensitivity: LayerSensitivity[] | undefined,
  steps: string[], stageDir: string,
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
  return { floor, float: rel(float), quantized: rel(quantized), weights: rows, fallbackSteps: steps };
}

function notesOf(d: QuantizeDetails): string[] {
  const notes: string[] = [];
  for (const f of SHIPPED_FORMATS as readonly ShippedFormat[]) {
    notes.push(`${f}: ${d.quantized[f].bytes.toLocaleString('en-US')} bytes = ${(d.quantized[f].bytes / d.float[f].bytes).toFixed(3)}× float, ` +
      `test accuracy ${pct(d.quantized[f].testAccuracy ?? 0)} (float ${pct(d.float[f].testAccuracy ?? 0)}), loaded in its own runtime`);
  }
  const kept = d.weights.filter((w) => w.raised);
  if (kept.length > 0) notes.push(`kept at higher precision: ${kept.map((w) => `${w.layer}/${w.weight} (${w.stored}; tfjs ${w.tfjs})`).join(', ')}`);
  const shipped = d.onnxEncoding ?? 'DequantizeLinear';
  for (const e of ['DequantizeLinear', 'qdq'] as const) {
    const c = d.onnxCandidates?.[e];
    const what = e === 'qdq' ? 'int8 activations (static QDQ)' : 'int8 weights through DequantizeLinear';
    if (c && e !== shipped && !c.passed) notes.push(`onnx: ${what} held validation accuracy ${pct(c.valAccuracy)}, below the floor ${pct(d.floor)}: shipped ${shipped}`);
  }
  return notes;
}

/** What the onnxruntime timings say about the encodings (the stage's timings.notes: they differ run to run). */
function latencyNotes(d: QuantizeDetails, rows: LatencyRow[]): string[] {
  const notes: string[] = [];
  const times = (e: OnnxEncoding) => rows.map((l) => (l.quantized[e] ? `batch ${l.batch} ×${(l.float.median / l.quantized[e]!.median).toFixed(2)}` : '')).filter(Boolean).join(', ');
  const shippedAs = d.onnxEncoding ?? 'DequantizeLinear';
  for (const e of ['DequantizeLinear', 'qdq'] as const) {
    const c = d.onnxCandidates?.[e];
    if (!c || e === shippedAs) continue;
    const what = e === 'qdq' ? 'int8 activations (static QDQ)' : 'int8 weights through DequantizeLinear';
    if (c.passed && rows.length > 0) notes.push(`onnx: onnxruntime ran ${what} slower (speed-up vs float: ${times(e)}) than ${shippedAs} (${times(shippedAs)}): shipped ${shippedAs}`);
  }
  for (const l of rows) if (l.speedup < 1) notes.push(`onnx: the shipped model (${l.shipped}) runs slower than float at batch ${l.batch} (×${l.speedup.toFixed(2)}, median of interleaved runs)`);
  return notes;
}
