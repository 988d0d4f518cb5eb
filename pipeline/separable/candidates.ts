/**
 * Which layers the separable stage may replace, and by what. A Conv2D with a kernel larger than 1×1 may become
 * DepthwiseConv2D(m) → 1×1 Conv2D for m = 1, 2, 4, … while the pair has fewer parameters AND fewer MACs than the
 * layer by more than `minSaving` times (with C inputs, F filters and kh·kw taps both reduce to
 * minSaving·m·(kh·kw + F) < kh·kw·F; m never exceeds kh·kw, where the pair is already exact). A Dense (in → out) may
 * become Dense(r) → Dense(out) for r on a ladder (1, 2, 3, 4, 6, 8, 12, …) while minSaving·r·(in + out) < in·out.
 * The margin is there because the pair is one more layer, whose intermediate activations a runtime writes and reads
 * back: a pair that saves little runs slower than the layer it replaces. With `roundTo` > 1 only pairs whose inner
 * width — the rank r (then on the ladder roundTo × (1, 2, 3, 4, 6, …)), or the depthwise layer's C·m channels — is a
 * multiple of it are offered: a runtime's kernels
 * work in blocks of channels or columns (onnxruntime's sgemm on AVX2 in 16 columns: a rank of 24 costs as much as
 * 32), so a width off the block pays for the block anyway. Everything else stays, with the reason.
 */
import type { ModelIR, LayerIR } from '../ir.ts';
import { isClass } from '../layers/registry.ts';
import { prod } from '../layers/shared.ts';

export type ReplacementKind = 'separable' | 'low-rank';

/** One possible replacement of a layer: its size (m or r) and what the pair costs. */
export interface Option {
  size: number;
  params: number;
  macs: number;
}

export interface Candidate {
  layer: string;
  className: 'Conv2D' | 'Dense';
  kind: ReplacementKind;
  params: number;
  macs: number;
  /** Sizes that pay, smallest (most compression) first. */
  options: Option[];
}

export interface Ineligible {
  layer: string;
  className: string;
  reason: string;
}

export interface Survey {
  candidates: Candidate[];
  ineligible: Ineligible[];
}

/** 1, 2, 3, 4, 6, 8, 12, 16, 24, … (two steps per octave). */
export function rankLadder(limit: number): number[] {
  const out: number[] = [];
  for (let p = 1; p <= limit; p *= 2) {
    out.push(p);
    if (p >= 2 && p * 1.5 <= limit) out.push(p * 1.5);
  }
  return out.filter((r) => r <= limit);
}

/**
 * Candidate and ineligible layers of `ir`, in model order. `shapes`: each layer's output shape (per sample);
 * `roundTo`: the pair's inner width (r, or C·m) must be a multiple of it.
 */
export function survey(
  ir: ModelIR, shapes: Map<string, number[]>, kinds: { convolutions: boolean; dense: boolean }, minSaving = 1, roundTo = 1,
): Survey {
  const candidates: Candidate[] = [];
  const ineligible: Ineligible[] = [];
  for (const layer of ir.layers) {
    const inShape = layer.inputs.length === 1 ? shapes.get(layer.inputs[0]!) : undefined;
    const outShape = shapes.get(layer.name);
    let result: Candidate | string | undefined;
    if (isClass(layer, 'Conv2D')) result = kinds.convolutions ? convCandidate(layer, minSaving, roundTo, inShape, outShape) : 'convolutions: false';
    else if (isClass(layer, 'Dense')) result = kinds.dense ? denseCandidate(layer, minSaving, roundTo, inShape, outShape) : 'dense: false';
    if (result === undefined) continue;
    if (typeof result === 'string') ineligible.push({ layer: layer.name, className: layer.className, reason: result });
    else candidates.push(result);
  }
  return { candidates, ineligible };
}

const hasBias = (layer: LayerIR) => layer.weights.some((w) => w.name === 'bias');

/** The pair has fewer params and MACs than the layer by more than `minSaving` times. */
const pays = (o: Option, params: number, macs: number, minSaving: number) => o.params * minSaving < params && o.macs * minSaving < macs;

const fewer = (minSaving: number) => (minSaving === 1 ? 'fewer' : `${minSaving}× fewer (minSaving)`);

/** Why nothing is offered when the only sizes that pay are off the `roundTo` block. */
const offBlock = (what: string, paying: number[], roundTo: number) =>
  `no ${what} that pays is a multiple of roundTo ${roundTo} (paying: ${paying.join(', ')})`;

function convCandidate(layer: LayerIR<import('../layers/registry.ts').LayerConfigs['Conv2D']>, minSaving: number, roundTo: number, inShape?: number[], outShape?: number[]): Candidate | string {
  const c = layer.config;
  const [kh, kw] = c.kernelSize;
  if (kh * kw === 1) return 'a 1×1 convolution has no spatial kernel to separate';
  if (c.dilationRate.some((d) => d !== 1)) return `dilation_rate [${c.dilationRate}]: tfjs's DepthwiseConv2D ignores dilation, so the pair would compute something else`;
  if (!inShape || inShape.length !== 3 || !outShape) return 'its input is not a known H×W×C tensor';
  const taps = kh * kw;
  const channels = inShape[2]!;
  const filters = c.filters;
  const positions = outShape[0]! * outShape[1]!;
  const bias = hasBias(layer) ? filters : 0;
  const params = taps * channels * filters + bias;
  const macs = positions * taps * channels * filters;
  const paying: Option[] = [];
  for (let m = 1; m <= taps; m *= 2) {
    const option = { size: m, params: taps * channels * m + channels * m * filters + bias, macs: positions * channels * m * (taps + filters) };
    if (!pays(option, params, macs, minSaving)) break;
    paying.push(option);
  }
  if (paying.length === 0) {
    return `a depthwise + pointwise pair does not pay: at m = 1 it has ${taps * channels + channels * filters + bias} params vs ${params}, not ${fewer(minSaving)}`;
  }
  const options = paying.filter((o) => (channels * o.size) % roundTo === 0);
  if (options.length === 0) return offBlock(`depthwise width C·m (C = ${channels})`, paying.map((o) => channels * o.size), roundTo);
  return { layer: layer.name, className: 'Conv2D', kind: 'separable', params, macs, options };
}

function denseCandidate(layer: LayerIR<import('../layers/registry.ts').LayerConfigs['Dense']>, minSaving: number, roundTo: number, inShape?: number[], outShape?: number[]): Candidate | string {
  if (!inShape || !outShape) return 'its input shape is not known';
  const inputs = inShape[inShape.length - 1]!;
  const units = layer.config.units;
  const positions = prod(inShape.slice(0, -1));
  const bias = hasBias(layer) ? units : 0;
  const params = inputs * units + bias;
  const macs = positions * inputs * units;
  const option = (r: number) => ({ size: r, params: r * (inputs + units) + bias, macs: positions * r * (inputs + units) });
  const limit = Math.min(inputs, units);
  const paying = rankLadder(limit).map(option).filter((o) => pays(o, params, macs, minSaving));
  if (paying.length === 0) return `a low-rank pair does not pay: even rank 1 has ${inputs + units + bias} params vs ${params}, not ${fewer(minSaving)}`;
  // The same ladder in units of roundTo: roundTo × (1, 2, 3, 4, 6, …).
  const options = rankLadder(Math.floor(limit / roundTo)).map((k) => option(k * roundTo)).filter((o) => pays(o, params, macs, minSaving));
  if (options.length === 0) return offBlock('rank', paying.map((o) => o.size), roundTo);
  return { layer: layer.name, className: 'Dense', kind: 'low-rank', params, macs, options };
}
