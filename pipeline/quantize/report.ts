/** The quantize stage's report.json details and their report.md rendering. */
import type { LatencyStats } from '../measure/latency.ts';
import type { EncodingCandidate, LatencyRow, OnnxEncoding } from './onnx-encoding.ts';
import type { Precision } from './plan.ts';
import type { ShippedArtifact, ShippedFormat } from './shipped.ts';

export interface WeightRow {
  layer: string;
  weight: string;
  shape: number[];
  requested: Precision;
  /** The storage ONNX/TFLite ship (e.g. `int8 symmetric per-channel (axis 3) (tfjs: uint8)`). */
  stored: string;
  /** What the TF.js export wrote for it. */
  tfjs: Precision;
  override?: string;
  /** int8: worst channel's relative RMS error against the float weight, of the int8 codes and of each tfjs format tried. */
  error?: Record<string, number>;
  /** Validation accuracy its layer costs quantised alone (measured only when the fallback ran). */
  sensitivity?: Record<ShippedFormat, number>;
  /** The fallback's steps for this weight and why. */
  raised?: string[];
}

export interface QuantizeDetails {
  /** Validation accuracy each artifact had to keep. */
  floor: number;
  float: Record<ShippedFormat, Omit<ShippedArtifact, 'file'> & { file?: string }>;
  quantized: Record<ShippedFormat, Omit<ShippedArtifact, 'file'> & { file?: string }>;
  weights: WeightRow[];
  fallbackSteps: string[];
  /** onnxruntime, float vs quantised ONNX (each weight encoding tried), interleaved in one process; speed-up = float median / shipped median. */
  latency?: LatencyRow[];
  /** What the ONNX export ships: int8 weights via DequantizeLinear or Cast+Mul, or static QDQ with int8 activations. */
  onnxEncoding?: OnnxEncoding;
  /** Each encoding's validation accuracy as shipped (onnxruntime), when they were compared. */
  onnxCandidates?: Partial<Record<OnnxEncoding, EncodingCandidate>>;
  /** Activation calibration (activations: int8): method and training samples; the ranges are in the model (ModelIR.calibration). */
  calibration?: { method: string; samples: number };
}

const pct = (x: number | undefined) => (x === undefined ? '–' : `${(x * 100).toFixed(2)}%`);
const n = (x: number) => x.toLocaleString('en-US');
const ms = (l: LatencyStats) => `${l.median.toFixed(3)} ms (${l.p25.toFixed(3)}–${l.p75.toFixed(3)})`;

export function renderQuantizeDetails(d: QuantizeDetails): string[] {
  const lines = [
    `Artifacts loaded back in their own runtimes (TF.js: stock tfjs; ONNX: onnxruntime-node); validation floor ${pct(d.floor)}:`,
    '',
    '| artifact | float bytes | quantised bytes | ratio | float gzip | quantised gzip | float val / test | quantised val / test | checker |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const f of ['tfjs', 'onnx'] as const) {
    const a = d.float[f];
    const b = d.quantized[f];
    lines.push(`| ${f} | ${n(a.bytes)} | ${n(b.bytes)} | ${(b.bytes / a.bytes).toFixed(3)}× | ${n(a.gzipBytes)} | ${n(b.gzipBytes)} | ` +
      `${pct(a.valAccuracy)} / ${pct(a.testAccuracy)} | ${pct(b.valAccuracy)} / ${pct(b.testAccuracy)} | ${b.check ? b.check.status : '–'} |`);
  }
  if (d.latency) {
    lines.push('', 'onnxruntime latency, float vs quantised ONNX (median of interleaved runs, quartiles; speed-up of the shipped encoding):', '',
      '| batch | float | int8 weights, DequantizeLinear | int8 weights, Cast+Mul | int8 weights + activations (QDQ) | shipped | speed-up |', '|---|---|---|---|---|---|---|');
    const cell = (l?: LatencyStats) => (l ? ms(l) : '–');
    for (const l of d.latency) lines.push(`| ${l.batch} | ${ms(l.float)} | ${cell(l.quantized.DequantizeLinear)} | ${cell(l.quantized['cast-mul'])} | ${cell(l.quantized.qdq)} | ${l.shipped} | ×${l.speedup.toFixed(2)} |`);
  }
  if (d.onnxCandidates) {
    const c = Object.entries(d.onnxCandidates).map(([e, x]) => `${e} ${pct(x!.valAccuracy)}${x!.passed ? '' : ' (below the floor)'}`).join(', ');
    lines.push('', `ONNX encodings, validation accuracy in onnxruntime: ${c}; shipped: ${d.onnxEncoding}${d.calibration ? ` (activations calibrated: ${d.calibration.method}, ${d.calibration.samples} training samples)` : ''}.`);
  }
  lines.push('', 'Per weight (biases and normalisation stay float32):', '', '| weight | shape | stored (ONNX/TFLite) | TF.js wrote | error int8 / tfjs | sensitivity onnx / tfjs | why |', '|---|---|---|---|---|---|---|');
  for (const w of d.weights) {
    const err = w.error ? `${w.error.int8!.toExponential(1)} / ${w.error[w.tfjs]?.toExponential(1) ?? '–'}` : '–';
    const sens = w.sensitivity ? `${(w.sensitivity.onnx * 100).toFixed(2)} / ${(w.sensitivity.tfjs * 100).toFixed(2)} pts` : '–';
    const why = [w.override ? `override "${w.override}"` : '', ...(w.raised ?? [])].filter(Boolean).join('; ') || '–';
    lines.push(`| ${w.layer}/${w.weight} | [${w.shape.join(', ')}] | ${w.stored} | ${w.tfjs} | ${err} | ${sens} | ${why} |`);
  }
  if (d.fallbackSteps.length > 0) lines.push('', 'Fallback steps:', ...d.fallbackSteps.map((s) => `- ${s}`));
  return lines;
}
