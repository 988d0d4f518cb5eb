/**
 * After replacement, each pair's second layer (the 1×1 pointwise conv, or the second Dense) is refitted by least
 * squares so that, on calibration samples, the pair reproduces the original layer's pre-activation output: the
 * original layer reads the input model's activations, the second layer the replaced model's (its first layer's
 * output). Pairs are refitted in model order on the live replaced model, so each fit also corrects what the
 * replacements upstream changed. Reports each layer's relative output error (MSE / mean square of the original
 * output) before and after its refit.
 */
import type { ModelIR } from '../ir.ts';
import { activations, pairedRows, refitLayer, type Activations, type RefitSettings } from '../recovery/refit.ts';
import { deriveSeed } from '../random.ts';
import type { Pair } from './factorize.ts';

export type RefitOptions = RefitSettings;

export interface PairFit {
  layer: string;
  rows: number;
  features: number;
  /** Relative error of the pair's pre-activation output on the calibration rows: after the SVD initialisation, after the refit. */
  relErrorBefore: number;
  relErrorAfter: number;
}

/** The input model's activations, shared by every candidate a search refits. */
export class TeacherActivations {
  private readonly cache = new Map<string, Promise<Activations>>();
  constructor(private readonly original: ModelIR, private readonly opts: RefitOptions) {}
  of(layer: string): Promise<Activations> {
    let a = this.cache.get(layer);
    if (!a) this.cache.set(layer, (a = activations(this.original, layer, this.opts)));
    return a;
  }
  clear(): void {
    this.cache.clear();
  }
}

/** Refits every pair of `replaced` (in place: the second layers' kernel and bias) in model order. */
export async function refitPairs(original: ModelIR, replaced: ModelIR, pairs: ReadonlyMap<string, Pair>, teacher: TeacherActivations, opts: RefitOptions): Promise<PairFit[]> {
  const fits: PairFit[] = [];
  for (const layer of replaced.layers) {
    const pair = pairs.get(layer.name);
    if (!pair || pair.second !== layer) continue;
    const orig = original.layers.find((l) => l.name === layer.name)!;
    const xOrig = await teacher.of(orig.inputs[0]!);
    const xNew = await activations(replaced, pair.first.name, opts);
    const rows = pairedRows(orig, layer, xOrig, xNew, opts.maxConvRows, deriveSeed(opts.seed, `refit:${layer.name}`));
    const outputs = Array.from({ length: layer.weights.find((w) => w.name === 'kernel')!.shape.at(-1)! }, (_, i) => i);
    const fit = refitLayer(orig, layer, outputs, rows, opts.ridge);
    const scale = fit.targetMeanSquare > 0 ? fit.targetMeanSquare : 1;
    fits.push({ layer: layer.name, rows: rows.count, features: rows.nNew, relErrorBefore: fit.mseBefore / scale, relErrorAfter: fit.mseAfter / scale });
  }
  return fits;
}
