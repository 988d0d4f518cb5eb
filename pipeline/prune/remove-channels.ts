/**
 * Applies a pruning plan to the IR: removes whole channel classes (pipeline/graph/channel-groups.ts) from the
 * topology and the weights. Every weight axis bound to a tensor's channels is sliced — producer kernels and
 * biases, BatchNormalization parameters, depthwise kernels, consumer kernel rows (Flatten → Dense row blocks
 * included), separable pointwise kernels — and producers' `filters`/`units` shrink to match. Weights keep their
 * storage: a uint8 model stays uint8, a per-channel int8 weight keeps the scales of the channels it keeps.
 */
import type { ChannelAnalysis } from '../graph/channel-groups.ts';
import { cloneIR, type LayerIR, type ModelIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import { sliceWeight } from '../weight-storage.ts';

/** Keeps the indices `keep` (ascending) of `axis`, in the weight's storage (codes and per-channel scales follow). */
export const sliceAxis = sliceWeight;

/** Indices whose class is not removed. */
export function keptIndices(classes: Int32Array, removed: ReadonlySet<number>): number[] {
  const keep: number[] = [];
  for (let i = 0; i < classes.length; i++) if (!removed.has(classes[i]!)) keep.push(i);
  return keep;
}

/**
 * A new IR without the `removed` classes. Throws (a bug in the caller) if a removed class is blocked or a
 * producer would lose every channel.
 */
export function removeChannels(ir: ModelIR, analysis: ChannelAnalysis, removed: ReadonlySet<number>): ModelIR {
  for (const k of removed) {
    const g = analysis.groups[analysis.classGroup[k] ?? -1];
    if (!g) throw new Error(`class ${k} belongs to no channel group`);
    if (g.blocked.has(k)) throw new Error(`class ${k} of group ${g.name} is blocked (${g.blocked.get(k)}) and cannot be removed`);
  }
  const out = cloneIR(ir);
  if (removed.size === 0) return out;
  const byName = new Map(out.layers.map((l) => [l.name, l]));
  for (const b of analysis.bindings) {
    const keep = keptIndices(b.classes, removed);
    if (keep.length === b.classes.length) continue;
    const layer = byName.get(b.layer)!;
    const i = layer.weights.findIndex((w) => w.name === b.weight);
    layer.weights[i] = sliceAxis(layer.weights[i]!, b.axis, keep);
  }
  for (const [name, classes] of analysis.producerClasses) {
    const kept = keptIndices(classes, removed).length;
    if (kept === classes.length) continue;
    if (kept === 0) throw new Error(`pruning plan removes every channel of layer "${name}"`);
    const i = out.layers.findIndex((l) => l.name === name);
    out.layers[i] = withUnits(out.layers[i]!, kept);
  }
  return out;
}

/** A producer with `n` output channels (its class says which config field that is). */
function withUnits(layer: LayerIR, n: number): LayerIR {
  const resize = layerClass(layer.className)?.withOutputChannels;
  if (!resize) throw new Error(`layer "${layer.name}" (${layer.className}) is not a channel producer`);
  return resize(layer, n);
}

/** Output channel indices each producer loses under `removed` (the replayable part of a plan). */
export function removedProducerChannels(analysis: ChannelAnalysis, removed: ReadonlySet<number>): Record<string, number[]> {
  const result: Record<string, number[]> = {};
  for (const [name, classes] of analysis.producerClasses) {
    const gone: number[] = [];
    classes.forEach((k, i) => removed.has(k) && gone.push(i));
    if (gone.length > 0) result[name] = gone;
  }
  return result;
}
