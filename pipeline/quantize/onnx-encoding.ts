/**
 * How the ONNX export dequantises int8 weights, chosen by measured speed. `DequantizeLinear` is the QDQ form;
 * onnxruntime keeps such nodes for its quantised kernels, and with float activations that path measured slower than
 * float on this project's CPUs (the example: ×0.2 at batch 1, ×0.06 at batch 64). `cast-mul` (Int8Storage.onnx) ships
 * the same int8 bytes and the same values, in ops onnxruntime constant-folds at load: float speed. The stage times
 * float, DequantizeLinear and cast-mul files interleaved in one onnxruntime process and ships the faster encoding.
 */
import path from 'node:path';
import type { Predictor } from '../evaluate.ts';
import type { ModelIR } from '../ir.ts';
import { comparePredictorLatency, type LatencyStats } from '../measure/latency.ts';
import type { StageContext } from '../stage.ts';
import { writeAndLoad } from './shipped.ts';

export type OnnxEncoding = 'DequantizeLinear' | 'cast-mul';

export interface LatencyRow {
  batch: number;
  float: LatencyStats;
  /** The quantised ONNX model per weight encoding. */
  quantized: Partial<Record<OnnxEncoding, LatencyStats>>;
  /** The encoding shipped; speedup = float median / its median. */
  shipped: OnnxEncoding;
  speedup: number;
}

export const LATENCY_BATCHES = [1, 64];

/** `ir` with every symmetric int8 weight's ONNX encoding set to `encoding`. */
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

export function hasSymmetricInt8(ir: ModelIR): boolean {
  return ir.layers.some((l) => l.weights.some((w) => w.storage?.dtype === 'int8' && w.storage.zeroPoints.every((z) => z === 0)));
}

/**
 * Times the float ONNX model against `ir` in each encoding (interleaved, per batch size) and returns the faster
 * encoding's IR. The geometric mean of the per-batch medians decides.
 */
export async function chooseOnnxEncoding(float: Predictor, ir: ModelIR, dir: string, ctx: StageContext, runs: number): Promise<{ ir: ModelIR; encoding: OnnxEncoding; latency: LatencyRow[] }> {
  const encodings: OnnxEncoding[] = ['DequantizeLinear', 'cast-mul'];
  const loaded: Predictor[] = [];
  try {
    for (const e of encodings) loaded.push((await writeAndLoad(withOnnxEncoding(ir, e), 'onnx', path.join(dir, e), ctx)).predictor);
    const measured: LatencyStats[][] = [];
    for (const batch of LATENCY_BATCHES) measured.push(await comparePredictorLatency([float, ...loaded], ctx.data.test, runs, { batch }));
    const score = (k: number) => Math.exp(measured.reduce((s, m) => s + Math.log(m[k + 1]!.median), 0) / measured.length);
    const pick = score(1) < score(0) ? 1 : 0;
    const encoding = encodings[pick]!;
    const latency = LATENCY_BATCHES.map((batch, b) => {
      const m = measured[b]!;
      const row: LatencyRow = { batch, float: m[0]!, quantized: { DequantizeLinear: m[1]!, 'cast-mul': m[2]! }, shipped: encoding, speedup: m[0]!.median / m[pick + 1]!.median };
      ctx.log(`onnxruntime batch ${batch}: float ${m[0]!.median.toFixed(3)} ms, int8 DequantizeLinear ${m[1]!.median.toFixed(3)} ms, int8 Cast+Mul ${m[2]!.median.toFixed(3)} ms`);
      return row;
    });
    return { ir: withOnnxEncoding(ir, encoding), encoding, latency };
  } finally {
    for (const p of loaded) p.dispose();
  }
}

/** The shipped ONNX model against float alone (no int8 weight to encode differently). */
export async function timeAgainstFloat(float: Predictor, quantized: Predictor, ctx: StageContext, runs: number, encoding: OnnxEncoding): Promise<LatencyRow[]> {
  const rows: LatencyRow[] = [];
  for (const batch of LATENCY_BATCHES) {
    const [f, q] = (await comparePredictorLatency([float, quantized], ctx.data.test, runs, { batch })) as [LatencyStats, LatencyStats];
    rows.push({ batch, float: f, quantized: { [encoding]: q }, shipped: encoding, speedup: f.median / q.median });
  }
  return rows;
}
