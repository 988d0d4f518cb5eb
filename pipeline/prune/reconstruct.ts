/**
 * Weight reconstruction after channel removal (AIMET's channel pruning): each consumer layer that lost input
 * channels is refitted by ridge least squares so that, on calibration samples, its pre-activation output from
 * the *pruned* network's activations matches the *original* network's. Consumers are refitted in topological
 * order on a live pruned model, so each fit sees the corrections made upstream. Forward passes only.
 *
 * A consumer is refitted when its class declares a `linearRows` view (pipeline/layers/): Dense uses every
 * calibration row (all leading positions); convolutions use a seeded sample of output positions (im2col patches).
 * Other consumers keep their sliced weights.
 */
import { cloneIR, type LayerIR, type ModelIR } from '../ir.ts';
import { activations, isRefittable, pairedRows, refitLayer, type Activations, type RefitSettings } from '../recovery/refit.ts';
import { keptIndices } from './remove-channels.ts';
import type { ChannelAnalysis } from '../graph/channel-groups.ts';

export type ReconstructOptions = RefitSettings;

export interface ReconstructTarget {
  /** A consumer that lost input channels. */
  layer: string;
  /** Original output channels it keeps (it may itself have been pruned). */
  keptOutputs: number[];
}

export interface LayerFit {
  layer: string;
  rows: number;
  features: number;
  /** Mean squared error of the layer's pre-activation output on the calibration rows, before and after the fit. */
  mseBefore: number;
  mseAfter: number;
}

export interface Reconstructor {
  /** `pruned` with its consumers refitted (a new IR), and how each fit went. */
  run(pruned: ModelIR, targets: ReconstructTarget[]): Promise<{ ir: ModelIR; fits: LayerFit[] }>;
  dispose(): void;
}

/** Keeps the original model and its calibration activations, which every candidate of a search shares. */
export async function createReconstructor(original: ModelIR, opts: ReconstructOptions): Promise<Reconstructor> {
  const cache = new Map<string, Promise<Activations>>();
  const teacherActivations = (layer: string) => {
    let a = cache.get(layer);
    if (!a) cache.set(layer, (a = activations(original, layer, opts)));
    return a;
  };
  return {
    async run(pruned, targets) {
      const out = cloneIR(pruned);
      const order = new Map(out.layers.map((l, i) => [l.name, i]));
      const todo = targets.filter((t) => isReconstructable(out.layers[order.get(t.layer)!]!)).sort((a, b) => order.get(a.layer)! - order.get(b.layer)!);
      if (todo.length === 0) return { ir: out, fits: [] };
      const fits: LayerFit[] = [];
      for (const t of todo) {
        const layerOrig = original.layers.find((l) => l.name === t.layer)!;
        const layerNew = out.layers[order.get(t.layer)!]!;
        const xOrig = await teacherActivations(layerOrig.inputs[0]!);
        // Read from `out` as it is now: refit() updates its weights in place, so upstream fits are seen.
        const xNew = await activations(out, layerNew.inputs[0]!, opts);
        const rows = pairedRows(layerOrig, layerNew, xOrig, xNew, opts.maxConvRows, opts.seed);
        const { mseBefore, mseAfter } = refitLayer(layerOrig, layerNew, t.keptOutputs, rows, opts.ridge);
        fits.push({ layer: t.layer, rows: rows.count, features: rows.nNew, mseBefore, mseAfter });
      }
      return { ir: out, fits };
    },
    dispose: () => cache.clear(),
  };
}

/** Consumers that lose input channels under `removed`, with the output channels each keeps. */
export function reconstructionTargets(analysis: ChannelAnalysis, removed: ReadonlySet<number>): ReconstructTarget[] {
  const layers = new Set<string>();
  for (const b of analysis.bindings) if (b.role === 'in' && b.classes.some((k) => removed.has(k))) layers.add(b.layer);
  return [...layers].map((layer) => {
    const own = analysis.producerClasses.get(layer);
    return { layer, keptOutputs: own ? keptIndices(own, removed) : [] };
  });
}

function isReconstructable(layer: LayerIR): boolean {
  return isRefittable(layer);
}
