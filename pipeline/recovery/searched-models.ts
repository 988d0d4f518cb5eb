/**
 * A search's candidates (pruned and reconstructed, or replaced and refitted), kept with their validation quality so
 * that recovery starts from the model the search already built and measured instead of building and validating the
 * chosen plan again — on MobileNetV2 at 224×224 a reconstruction and a validation pass are about a minute. Keyed by
 * plan and bounded in bytes: when full, the largest model goes first (a search ships its smallest plan that passes;
 * larger ones are fallbacks). A plan that was not kept is rebuilt, and building is deterministic, so the result does
 * not depend on what was kept — only the time does. Prune and separable both use it.
 */
import { countParams, type ModelIR } from '../ir.ts';
import type { Accuracy } from '../metrics.ts';

export interface SearchedModel<Fit> {
  /** The candidate as the search measured it (after reconstruction or refit). */
  ir: ModelIR;
  /** How each layer's fit went, for the report. */
  fits: Fit[];
  /** Its validation quality on the whole split: what recovery's step would measure again. */
  val: Accuracy;
}

export class SearchedModels<Plan, Fit> {
  private readonly models = new Map<string, SearchedModel<Fit> & { bytes: number }>();
  private bytes = 0;
  /** `key`: a plan's identity (equal plans, equal keys). */
  constructor(readonly budget: number, private readonly key: (plan: Plan) => string) {}

  get(plan: Plan): SearchedModel<Fit> | undefined {
    return this.models.get(this.key(plan));
  }

  set(plan: Plan, model: SearchedModel<Fit>): void {
    const key = this.key(plan);
    if (this.models.has(key)) return;
    const bytes = 4 * countParams(model.ir);
    this.models.set(key, { ...model, bytes });
    this.bytes += bytes;
    while (this.bytes > this.budget && this.models.size > 0) {
      const [largest, entry] = [...this.models].reduce((a, b) => (b[1].bytes > a[1].bytes ? b : a));
      this.models.delete(largest);
      this.bytes -= entry.bytes;
    }
  }

  /** Drops every model but those of `plans` (the ones recovery may still start from). */
  keepOnly(plans: Plan[]): void {
    const wanted = new Set(plans.map(this.key));
    for (const [key, entry] of this.models) {
      if (wanted.has(key)) continue;
      this.models.delete(key);
      this.bytes -= entry.bytes;
    }
  }

  clear(): void {
    this.models.clear();
    this.bytes = 0;
  }
}
