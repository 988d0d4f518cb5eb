/**
 * The accuracy budget and how the runner splits it over the stages. The pipeline's budget (`budget.maxAccuracyDrop`)
 * is what the final model may lose against the baseline; each stage that changes accuracy gets a share of it. A share
 * is cumulative: stage i may end at most `budget × (the shares of stage i and every stage before it)` below the
 * baseline, so whatever an earlier stage left unspent (or a rejected stage never spent) carries over to the next.
 *
 * Default split: stages with an explicit `budgetShare` keep it; the rest of the budget (1 − their sum) is split
 * equally over the stages that change accuracy (`changesAccuracy` in their definition: prune, separable, quantize)
 * and have no explicit share. Other stages (export) get 0 unless given a share; their floor is the one in force
 * when they run, and the stages after the last one with a share see the whole budget (so an export after prune, or
 * an export alone, is held to the pipeline's floor).
 */
import { SlimnetError } from './errors.ts';

/** What the runner gives a stage: its part of the pipeline budget. */
export interface StageBudget {
  /** The pipeline's whole budget (`budget.maxAccuracyDrop`). */
  total: number;
  /** This stage's share of it (0..1). */
  share: number;
  /** How far below the baseline this stage's output may end: total × the cumulative share up to this stage. */
  maxDrop: number;
  /** baseline validation accuracy − maxDrop: what the stage's searches aim at and the runner's gate compares. */
  floor: number;
}

/** Per stage, in run order: its share and the cumulative share up to and including it. */
export interface BudgetSplit {
  share: number;
  cumulative: number;
}

export interface BudgetClaim {
  name: string;
  /** From the config; undefined: the default split. */
  budgetShare?: number;
  /** From the stage's definition. */
  changesAccuracy: boolean;
}

/** Splits the budget over the stages (see the file comment); `source` names the config for errors. */
export function splitBudget(stages: readonly BudgetClaim[], source = 'config'): BudgetSplit[] {
  const explicit = stages.reduce((sum, s) => sum + (s.budgetShare ?? 0), 0);
  if (explicit > 1 + 1e-9) {
    const i = stages.map((s) => s.budgetShare !== undefined).lastIndexOf(true);
    throw new SlimnetError('CONFIG_INVALID', `${source}: stages[${i}].budgetShare`,
      `the stages' budget shares add up to ${round(explicit)}; together they may claim at most 1 (the whole budget)`, 'lower the shares');
  }
  const defaulted = stages.filter((s) => s.budgetShare === undefined && s.changesAccuracy).length;
  const rest = defaulted > 0 ? Math.max(0, 1 - explicit) / defaulted : 0;
  const shares = stages.map((s) => s.budgetShare ?? (s.changesAccuracy ? rest : 0));
  // What no stage claimed is left for the end: the stages after the last one with a share see the whole budget.
  const last = shares.map((share) => share > 0).lastIndexOf(true);
  let cumulative = 0;
  return shares.map((share, i) => {
    cumulative += share;
    return { share: round(share), cumulative: i > last ? 1 : Math.min(1, round(cumulative)) };
  });
}

/** The budget a stage runs with, against the baseline's validation accuracy. */
export function stageBudget(total: number, split: BudgetSplit, baselineAccuracy: number): StageBudget {
  const maxDrop = round(total * split.cumulative);
  return { total, share: split.share, maxDrop, floor: baselineAccuracy - maxDrop };
}

/** Shares like 1/3 are kept to 12 digits so that three of them make exactly 1. */
function round(x: number): number {
  return Math.round(x * 1e12) / 1e12;
}
