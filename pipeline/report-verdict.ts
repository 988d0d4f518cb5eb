/**
 * The one-line verdict a run's report opens with (and the CLI ends with): did it pass, with which exit code, and
 * why — what shrank and where validation accuracy ended against the floor, or which stage failed or missed its budget.
 */
import type { Report } from './report.ts';

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const num = (v: number) => v.toLocaleString('en-US');

export function verdictLine(report: Report): string {
  const failed = report.stages.find((s) => s.status === 'failed');
  if (failed) {
    const kind = report.exitCode === 2 ? 'bad input' : 'a requirement not met';
    return `FAILED (exit ${report.exitCode}, ${kind}) — ${failed.name} failed: ${failed.reason ?? 'no reason given'}`;
  }
  const rejected = report.stages.filter((s) => s.status === 'rejected');
  const fatal = rejected.filter((s) => s.onBudgetMiss === 'fail');
  const floor = report.budget.minValAccuracy;
  const missed = (names: typeof rejected) =>
    names.map((s) => `${s.name} (validation ${s.metrics ? pct(s.metrics.valAccuracy) : '–'})`).join(', ');
  if (fatal.length > 0) {
    return `FAILED (exit ${report.exitCode}, a requirement not met) — ${missed(fatal)} missed the budget floor ${pct(floor)} ` +
      `and onBudgetMiss is 'fail'; the report and the last accepted model are kept`;
  }
  const { baseline: b, final: f } = report;
  const smaller = f.params < b.params ? ` (${(b.params / f.params).toFixed(2)}× fewer)` : '';
  const parts = [
    `params ${num(b.params)} → ${num(f.params)}${smaller}`,
    `validation accuracy ${pct(b.valAccuracy)} → ${pct(f.valAccuracy)} (floor ${pct(floor)})`,
  ];
  if (rejected.length > 0) parts.push(`rejected and skipped over: ${missed(rejected)}`);
  const exports = Object.keys(report.exports);
  parts.push(exports.length ? `exports: ${exports.join(', ')}` : 'no exports');
  return `OK (exit ${report.exitCode}) — ${parts.join('; ')}`;
}
