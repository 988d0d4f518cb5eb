/** The separable stage's account of what it did: per-layer outcomes, recovery steps, report.md's section. */
import { countMacs } from '../graph/macs.ts';
import type { ModelIR } from '../ir.ts';
import type { Sizes } from '../prune/allocate.ts';
import { renderRecovery, type FineTuneReport, type RecoveryStep as Step } from '../recovery/steps.ts';
import type { Survey } from './candidates.ts';
import type { PairFit } from './refit-pairs.ts';

export type RecoveryStep = Step<'replacement' | 'refit' | 'fine-tuning'>;

/** A plan recovered in turn when the near miss was tried first: its place on the path (-1: the fixed choices alone). */
export interface NearMissAttempt {
  planIndex: number;
  plan: Record<string, number>;
  recovery: RecoveryStep[];
  /** At or above the floor after recovery. */
  passed: boolean;
}

export interface LayerOutcome {
  layer: string;
  className: string;
  /** 'separable' (DepthwiseConv2D + 1×1 Conv2D), 'low-rank' (Dense + Dense) or 'kept'. */
  outcome: 'separable' | 'low-rank' | 'kept';
  /** m or r, when replaced. */
  size?: number;
  paramsBefore: number;
  paramsAfter: number;
  macsBefore: number;
  macsAfter: number;
  /** Relative pre-activation output error on the calibration rows, after the SVD initialisation and after the refit. */
  relErrorBefore?: number;
  relErrorAfter?: number;
  /** Why a layer stays. */
  reason?: string;
}

/** Every Conv2D and Dense layer: what became of it. */
export function layerOutcomes(ir: ModelIR, found: Survey, plan: ReadonlyMap<string, number>, fits: PairFit[], reasons: Map<string, string>): LayerOutcome[] {
  const out: LayerOutcome[] = [];
  // A kept layer that is no candidate (a 1×1 or dilated convolution, a Dense where no pair pays) still has its MACs.
  const macsOf = countMacs(ir).perLayer;
  for (const layer of ir.layers) {
    const c = found.candidates.find((x) => x.layer === layer.name);
    const ineligible = found.ineligible.find((x) => x.layer === layer.name);
    if (!c && !ineligible) continue;
    const size = plan.get(layer.name);
    if (c && size !== undefined) {
      const option = c.options.find((o) => o.size === size)!;
      const fit = fits.find((f) => f.layer === layer.name);
      out.push({
        layer: layer.name, className: layer.className, outcome: c.kind, size, paramsBefore: c.params, paramsAfter: option.params, macsBefore: c.macs, macsAfter: option.macs,
        ...(fit ? { relErrorBefore: fit.relErrorBefore, relErrorAfter: fit.relErrorAfter } : {}),
      });
      continue;
    }
    const params = c?.params ?? layer.weights.reduce((n, w) => n + w.values.length, 0);
    const macs = c?.macs ?? macsOf[layer.name] ?? Number.NaN;
    out.push({ layer: layer.name, className: layer.className, outcome: 'kept', paramsBefore: params, paramsAfter: params, macsBefore: macs, macsAfter: macs, reason: ineligible?.reason ?? reasons.get(layer.name) ?? 'not chosen' });
  }
  return out;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const n = (v: number) => (Number.isFinite(v) ? v.toLocaleString('en-US') : '—');

/** Notes are compared run to run (determinism): no timing here — the stage's time is in its `timings`. */
export function separableNotes(sizes: { before: Sizes; after: Sizes }, plan: ReadonlyMap<string, number>, steps: RecoveryStep[]): string[] {
  const ratio = (k: keyof Sizes) => (sizes.after[k] > 0 ? `${(sizes.before[k] / sizes.after[k]).toFixed(2)}×` : 'n/a');
  return [
    `replaced ${plan.size} layer(s): ${[...plan].map(([l, s]) => `${l} (${s})`).join(', ')}`,
    `params ${n(sizes.before.params)} → ${n(sizes.after.params)} (${ratio('params')} fewer), MACs ${ratio('macs')} fewer`,
    `val/test accuracy after ${steps.map((s) => `${s.step} ${pct(s.valAccuracy)}/${pct(s.testAccuracy)}`).join(', ')}`,
  ];
}

/** report.md's separable section. */
export function renderSeparableDetails(details: Record<string, unknown>, timings?: Record<string, unknown>): string[] {
  const d = details as { layers?: LayerOutcome[]; recovery?: RecoveryStep[]; fineTune?: FineTuneReport; nearMiss?: NearMissAttempt[]; budget?: { floor: number } };
  const lines: string[] = [];
  const err = (v?: number) => (v === undefined ? '' : v.toExponential(2));
  if (d.layers?.length) {
    lines.push('| layer | class | became | params | MACs | output error (SVD → refit) | why kept |', '|---|---|---|---|---|---|---|');
    for (const l of d.layers) {
      const became = l.outcome === 'kept' ? 'kept' : `${l.outcome === 'separable' ? 'DepthwiseConv2D + 1×1 Conv2D, m' : 'Dense + Dense, r'} = ${l.size}`;
      const error = l.relErrorBefore === undefined ? '' : `${err(l.relErrorBefore)} → ${err(l.relErrorAfter)}`;
      lines.push(`| ${l.layer} | ${l.className} | ${became} | ${n(l.paramsBefore)} → ${n(l.paramsAfter)} | ${n(l.macsBefore)} → ${n(l.macsAfter)} | ${error} | ${l.reason ?? ''} |`);
    }
    lines.push('');
  }
  const [near, ...after] = d.nearMiss ?? [];
  if (near) {
    const plan = (a: NearMissAttempt) => Object.entries(a.plan).map(([l, size]) => `${l}: ${size}`).join(', ');
    const floor = d.budget ? ` (floor ${pct(d.budget.floor)})` : '';
    lines.push(`Near miss tried first: ${plan(near)}, validation ${near.recovery.map((r) => `${pct(r.valAccuracy)} after ${r.step}`).join(', ')}${floor}: ${near.passed ? 'it ships' : `below the floor${after.length ? `; ${plan(after[0]!)} ships` : ', nothing replaced'}`}.`, '');
  }
  lines.push(...renderRecovery(d.recovery, d.fineTune, 'discarded: it lowered validation accuracy (or the floor), so the model before it ships', timings?.fineTuneSeconds as number | undefined));
  return lines;
}
