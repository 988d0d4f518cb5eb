/** The closing table the CLI prints: one row per step of a run, or one row per target. */
import type { Metrics } from './metrics.ts';
import { latencySummary, type Report } from './report.ts';

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const num = (v: number) => v.toLocaleString('en-US');

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

const cells = (m: Metrics | undefined) => (m ? [pct(m.valAccuracy), pct(m.testAccuracy), num(m.params), num(m.bytes), num(m.macs)] : ['–', '–', '–', '–', '–']);

/** Baseline, each stage, final — with latency (median, speed-up vs baseline) per batch size. */
export function runSummary(report: Report): string {
  const last = [...report.stages].reverse().find((s) => s.status === 'accepted');
  const rows = [
    ['baseline', '', ...cells(report.baseline), latencySummary(report.baselineLatency)],
    ...report.stages.map((s) => [s.name, s.status + (s.cached ? ' (cached)' : ''), ...cells(s.metrics), latencySummary(s.latency)]),
    ['final', last ? `= ${last.name}` : '= baseline', ...cells(report.final), latencySummary(last?.latency ?? report.baselineLatency)],
  ];
  return table(['step', 'status', 'val acc', 'test acc', 'params', 'bytes', 'MACs', 'latency (median ×speed-up)'], rows);
}

/** One row per target: its final model and exit code. */
export function targetsSummary(results: Array<{ target: string; report?: Report; exitCode: number; error?: string }>): string {
  const rows = results.map((r) => {
    const last = r.report ? [...r.report.stages].reverse().find((s) => s.status === 'accepted') : undefined;
    return [r.target, r.error ? `error` : `exit ${r.exitCode}${r.report?.cache?.replayed ? ' (replayed)' : ''}`, ...cells(r.report?.final), latencySummary(last?.latency)];
  });
  return table(['target', 'result', 'val acc', 'test acc', 'params', 'bytes', 'MACs', 'latency (median ×speed-up)'], rows);
}
