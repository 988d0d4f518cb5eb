/**
 * How the ONNX export ships a quantised model, chosen by measured speed among the encodings that hold the budget:
 * - `DequantizeLinear`: int8 weights + DequantizeLinear, float activations. onnxruntime keeps such nodes for its
 *   quantised kernels (dense layers become MatMulNBits), which on this project's CPU ran slower than float (the
 *   pruned example: ×0.2 at batch 1, ×0.06 at batch 64);
 * - `cast-mul`: the same int8 bytes and values as Cast + Mul by the scales (Int8Storage.onnx), which onnxruntime
 *   constant-folds at load: float speed;
 * - `qdq`: int8 weights (7-bit codes with `reduceRange`) and static int8 activations (calibrated ranges,
 *   ActivationCalibration.onnxQdq): onnxruntime fuses QLinearConv / QGemm — faster where its integer kernels are
 *   (large dense layers, VNNI CPUs), slower where they are not (the example's one-channel 3×3 convolution: ~50×
 *   its float time). Its u8s8 kernels on x86 without VNNI sum pairs of u8×s8 products in int16, which 8-bit weights
 *   overflow: on the pruned example validation fell from 97.88% (as written) to 96.75% (fused); 7-bit weights
 *   (onnxruntime's reduce_range) computed the same 97.63% both ways.
 * The stage ships `cast-mul` unless configured otherwise: the same bytes on every run. With `onnxEncoding: 'auto'` it
 * measures each candidate's validation accuracy as shipped (onnxruntime), times the ones that pass against the float
 * model interleaved in one process at batch 1 and 64, and ships the fastest (geometric mean of medians) — the first
 * listed unless another is clearly (DECISIVE_MARGIN) faster; even so a near-tie can flip between two runs or machines,
 * so 'auto' is an explicit opt-in, not for byte-reproducible builds.
 */
import path from 'node:path';
import type { Predictor } from '../evaluate.ts';
import type { ActivationCalibration, ModelIR } from '../ir.ts';
import { comparePredictorLatency, type LatencyStats } from '../measure/latency.ts';
import type { StageContext } from '../stage.ts';
import { writeAndLoad } from './shipped.ts';

export type OnnxEncoding = 'DequantizeLinear' | 'cast-mul' | 'qdq';

export interface LatencyRow {
  batch: number;
  float: LatencyStats;
  /** The quantised ONNX model per weight encoding. */
  quantized: Partial<Record<OnnxEncoding, LatencyStats>>;
  /** The encoding shipped; speedup = float median / its median. */
  shipped: OnnxEncoding;
  speedup: number;
}

export interface EncodingCandidate {
  valAccuracy: number;
  /** False: below the budget floor, so not timed and not shipped. */
  passed: boolean;
}

export const LATENCY_BATCHES = [1, 64];

/** How much faster (geometric mean of the per-batch medians) an encoding must run to replace one listed before it. */
export const DECISIVE_MARGIN = 0.1;

/** `ir` with every symmetric int8 weight's ONNX encoding set (`qdq` weights use DequantizeLinear). */
export function withOnnxEncoding(ir: ModelIR, encoding: OnnxEncoding): ModelIR {
  return {
    ...ir,
    layers: ir.layers.map((l) => ({
      ...l,
      weights: l.weights.map((w) => {
        const s = w.storage;
        if (s?.dtype !== 'int8' || !s.zeroPoints.every((z) => z === 0)) return w;
        const { onnx: _drop, ...rest } = s;
        return { ...w, storage: encoding === 'cast-mul' ? { ...rest, onnx: 'cast-mul' as const } : rest };
      }),
    })),
  };
}

/** `ir` as `encoding` ships it: its weights' encoding, and the calibration (QDQ only when `qdq`). */
export function asEncoded(ir: ModelIR, encoding: OnnxEncoding, calibration: ActivationCalibration | undefined): ModelIR {
  const out = withOnnxEncoding(ir, encoding);
  if (calibration) {
    const { onnxQdq: _drop, ...plain } = calibration;
    out.calibration = encoding === 'qdq' ? { ...plain, onnxQdq: true } : plain;
  }
  return out;
}

export function hasSymmetricInt8(ir: ModelIR): boolean {
  return ir.layers.some((l) => l.weights.some((w) => w.storage?.dtype === 'int8' && w.storage.zeroPoints.every((z) => z === 0)));
}

/** The encodings worth comparing for `ir`. */
export function encodingsFor(ir: ModelIR, calibration: ActivationCalibration | undefined): OnnxEncoding[] {
  return [...(hasSymmetricInt8(ir) ? (['DequantizeLinear', 'cast-mul'] as const) : (['DequantizeLinear'] as const)), ...(calibration ? (['qdq'] as const) : [])];
}

/**
 * Each encoding (`modelFor(encoding)`: the model as that encoding ships it) written and loaded in onnxruntime, its
 * validation accuracy measured; those at or above `floor` timed against `float` (interleaved, per batch size); the
 * fastest passing one is returned (undefined when none passes).
 */
export async function chooseOnnxEncoding(
  float: Predictor, encodings: OnnxEncoding[], modelFor: (encoding: OnnxEncoding) => ModelIR, floor: number, dir: string, ctx: StageContext, runs: number,
): Promise<{ encoding?: OnnxEncoding; candidates: Partial<Record<OnnxEncoding, EncodingCandidate>>; latency?: LatencyRow[] }> {
  const candidates: Partial<Record<OnnxEncoding, EncodingCandidate>> = {};
  const timed: Array<{ encoding: OnnxEncoding; predictor: Predictor }> = [];
  try {
    for (const encoding of encodings) {
      const { predictor } = await writeAndLoad(modelFor(encoding), 'onnx', path.join(dir, encoding), ctx);
      const valAccuracy = (await ctx.measure(predictor, 'validation')).accuracy;
      const passed = valAccuracy >= floor - 1e-9;
      candidates[encoding] = { valAccuracy, passed };
      ctx.log(`onnx ${encoding}: validation ${(valAccuracy * 100).toFixed(2)}%${passed ? '' : ' (below the floor)'}`);
      if (passed) timed.push({ encoding, predictor });
      else predictor.dispose();
    }
    if (timed.length === 0) return { candidates };
    if (runs === 0 || timed.length === 1) return { encoding: timed[0]!.encoding, candidates };
    const measured: LatencyStats[][] = [];
    for (const batch of LATENCY_BATCHES) measured.push(await comparePredictorLatency([float, ...timed.map((t) => t.predictor)], ctx.data.test, runs, { batch }));
    const score = (k: number) => Math.exp(measured.reduce((s, m) => s + Math.log(m[k + 1]!.median), 0) / measured.length);
    // Another encoding only when clearly faster: between near-equal encodings timing noise would pick either, and two
    // identical runs must ship the same bytes.
    let pick = 0;
    for (let k = 1; k < timed.length; k++) if (score(k) < score(pick) * (1 - DECISIVE_MARGIN)) pick = k;
    const encoding = timed[pick]!.encoding;
    const latency = LATENCY_BATCHES.map((batch, b) => {
      const m = measured[b]!;
      const quantized = Object.fromEntries(timed.map((t, k) => [t.encoding, m[k + 1]!]));
      ctx.log(`onnxruntime batch ${batch}: float ${m[0]!.median.toFixed(3)} ms, ${timed.map((t, k) => `${t.encoding} ${m[k + 1]!.median.toFixed(3)} ms`).join(', ')}`);
      return { batch, float: m[0]!, quantized, shipped: encoding, speedup: m[0]!.median / m[pick + 1]!.median };
    });
    return { encoding, candidates, latency };
  } finally {
    for (const t of timed) t.predictor.dispose();
  }
}

/** The shipped ONNX model against float alone (when no comparison ran). */
export async function timeAgainstFloat(float: Predictor, quantized: Predictor, ctx: StageContext, runs: number, encoding: OnnxEncoding): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const batch of LATENCY_BATCHES) {
    const [f, q] = (await comparePredictorLatency([float, quantized], ctx.data.test, runs, { batch })) as [LatencyStats, LatencyStats];
    rows.push({ batch, float: f, quantized: { [encoding]: q }, shipped: encoding, speedup: f.median / q.median });
  }
  return rows;
}
