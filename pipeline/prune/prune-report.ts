/** The prune stage's account of what it did: per-layer channel changes and the headline notes. */
import type { ChannelAnalysis } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import type { Sizes } from './allocate.ts';
import { renderRecovery, type FineTuneReport, type RecoveryStep as Step } from '../recovery/steps.ts';
import { keptIndices } from './remove-channels.ts';

/** 'search': the model the progressive search ended with (pruned, reconstructed, briefly fine-tuned). */
export type RecoveryStep = Step<'removal' | 'reconstruction' | 'search' | 'fine-tuning'>;

export interface LayerChange {
  layer: string;
  className: string;
  /** Input channels (last axis of the input) before → after, when they changed. */
  in?: [number, number];
  /** Output channels before → after, when they changed. */
  out?: [number, number];
}

/** Every layer whose input or output channel count changes. */
export function layerChanges(ir: ModelIR, analysis: ChannelAnalysis, removed: ReadonlySet<number>): LayerChange[] {
  const changes: LayerChange[] = [];
  const count = (name: string | undefined): [number, number] | undefined => {
    const slots = name === undefined ? undefined : analysis.slots.get(name);
    if (!slots) return undefined;
    const after = keptIndices(slots, removed).length;
    return after === slots.length ? undefined : [slots.length, after];
  };
  for (const layer of ir.layers) {
    if (layer.className === 'InputLayer') continue;
    const change: LayerChange = { layer: layer.name, className: layer.className };
    const input = layer.inputs.length === 1 ? count(layer.inputs[0]) : undefined;
    const output = count(layer.name);
    if (input) change.in = input;
    if (output) change.out = output;
    if (input || output) changes.push(change);
  }
  return changes;
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;

/** A recovery step whose model was discarded because validation accuracy fell (recover.ts). */
export interface DiscardedStepNote {
  step: string;
  valAccuracy: number;
  kept: string;
  keptValAccuracy: number;
}

/** Notes are compared run to run (determinism): no timing here — the stage's time is in its `timings`. */
export function outcomeNotes(before: Sizes, after: Sizes, steps: RecoveryStep[], discarded: DiscardedStepNote[] = []): string[] {
  const ratio = (k: keyof Sizes) => (after[k] > 0 && Number.isFinite(before[k] / after[k]) ? `${(before[k] / after[k]).toFixed(2)}×` : 'n/a');
  const notes = [
    `params ${before.params.toLocaleString('en-US')} → ${after.params.toLocaleString('en-US')} (${ratio('params')} fewer), ` +
      `MACs ${ratio('macs')} fewer, float32 bytes ${ratio('bytes')} fewer`,
    `val/test accuracy after ${steps.map((s) => `${s.step} ${pct(s.valAccuracy)}/${pct(s.testAccuracy)}`).join(', ')}`,
    ...discarded.map((d) => `${d.step} lowered validation accuracy ${pct(d.keptValAccuracy)} → ${pct(d.valAccuracy)}: the model after ${d.kept} is kept`),
  ];
  return notes;
}

/** report.md's prune section: what shrank, and accuracy after each recovery step. */
export function renderPruneDetails(details: Record<string, unknown>, timings?: Record<string, unknown>): string[] {
  const d = details as { layers?: LayerChange[]; recovery?: RecoveryStep[]; fineTune?: FineTuneReport };
  const pair = (p?: [number, number]) => (p ? `${p[0]} → ${p[1]}` : '');
  const lines: string[] = [];
  if (d.layers?.length) {
    lines.push('| layer | class | input channels | output channels |', '|---|---|---|---|');
    for (const l of d.layers) lines.push(`| ${l.layer} | ${l.className} | ${pair(l.in)} | ${pair(l.out)} |`);
    lines.push('');
  }
  lines.push(...renderRecovery(d.recovery, d.fineTune, 'discarded: it lowered validation accuracy, so the model before it ships', timings?.fineTuneSeconds as number | undefined));
  return lines;
}
