/**
 * The replayable record of a pruning run: which output channel indices left which producer layer (indices into
 * that layer's original channels). Replaying it on the same input model rebuilds the same topology and weight
 * slices; recovery (reconstruction, fine-tuning) then changes weight values, not shapes.
 */
import { SlimnetError } from '../errors.ts';
import { analyzeChannels, type ChannelAnalysis } from '../graph/channel-groups.ts';
import type { ModelIR } from '../ir.ts';
import { removeChannels } from './remove-channels.ts';

export interface PruningHistory {
  version: 1;
  criterion: string;
  /** Producer layer -> removed output channel indices, ascending. */
  removed: Record<string, number[]>;
}

/** The classes a history removes; every coupled producer must list the matching channels. */
export function classesFromHistory(analysis: ChannelAnalysis, history: PruningHistory): Set<number> {
  const removed = new Set<number>();
  for (const [layer, indices] of Object.entries(history.removed)) {
    const classes = analysis.producerClasses.get(layer);
    if (!classes) throw new SlimnetError('CONFIG_INVALID', `pruning history: layer "${layer}"`, 'is not a prunable producer in this model', 'replay a history on the model it was recorded on');
    for (const i of indices) {
      if (!(i >= 0 && i < classes.length)) throw new SlimnetError('CONFIG_INVALID', `pruning history: layer "${layer}"`, `has no channel ${i}`, 'replay a history on the model it was recorded on');
      removed.add(classes[i]!);
    }
  }
  // Coupled producers (e.g. both sides of an Add) must agree: each removed class appears in each of them.
  for (const [layer, classes] of analysis.producerClasses) {
    const listed = new Set(history.removed[layer] ?? []);
    classes.forEach((k, i) => {
      if (removed.has(k) && !listed.has(i)) {
        throw new SlimnetError('CONFIG_INVALID', `pruning history: layer "${layer}"`, `channel ${i} is coupled to a removed channel but not listed`, 'replay a history on the model it was recorded on');
      }
    });
  }
  return removed;
}

export function replayPruning(ir: ModelIR, history: PruningHistory, shapes?: Map<string, number[]>): ModelIR {
  const analysis = analyzeChannels(ir, shapes);
  return removeChannels(ir, analysis, classesFromHistory(analysis, history));
}
