/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no network) — the stage table, plots of
 * accuracy against parameters, bytes and latency for the baseline, every stage and every candidate a stage explored
 * (its `details.explored`), with the Pareto front marked, and per-layer channel counts before/after (`details.layers`).
 */
import type { LatencyReport } from '../measure/model-latency.ts';
import type { Metrics } from '../metrics.ts';
import type { Report, StageReport } from '../report.ts';
import { escapeHtml, legendHtml, scatterSvg, type PlotPoint } from './scatter.ts';

/** What a stage's details may carry for the page (prune's do; any stage may). */
interface ExploredPoint {
  sizes?: { params?: number; bytes?: number; macs?: number };
  accuracy?: number;
  strategy?: string;
  fraction?: number;
}
interface LayerChange {
  layer: string;
  className?: string;
  in?: [number, number];
  out?: [number, number];
}

const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
const num = (v: number) => v.toLocaleString('en-US');

function batchOne(l: LatencyReport | undefined) {
  return l?.batches.find((b) => b.batchSize === 1) ?? l?.batches[0];
}

function latencyCell(l: LatencyReport | undefined): string {
  if (!l) return '<td>–</td><td>–</td>';
  const cells = l.batches.map((b) => `b${b.batchSize}: ${b.model.median.toFixed(3)} ms <small>(${b.model.p25.toFixed(3)}–${b.model.p75.toFixed(3)})</small>`);
  const speed = l.batches.map((b) => `b${b.batchSize}: ${b.speedup.toFixed(2)}× <small>(${b.pairedSpeedup.p25.toFixed(2)}–${b.pairedSpeedup.p75.toFixed(2)})</small>`);
  return `<td>${cells.join('<br>')}</td><td>${speed.join('<br>')}</td>`;
}

function row(label: string, status: string, m: Metrics | undefined, latency: LatencyReport | undefined, cls = ''): string {
  if (!m) return `<tr class="${cls}"><th>${escapeHtml(label)}</th><td>${escapeHtml(status)}</td>${'<td>–</td>'.repeat(7)}</tr>`;
  return `<tr class="${cls}"><th>${escapeHtml(label)}</th><td>${escapeHtml(status)}</td><td>${pct(m.valAccuracy)}</td><td>${pct(m.testAccuracy)}</td>` +
    `<td>${num(m.params)}</td><td>${num(m.bytes)}</td><td>${num(m.macs)}</td>${latencyCell(latency)}</tr>`;
}

function stagePoints(report: Report, metric: 'params' | 'bytes' | 'latency'): PlotPoint[] {
  const reportLatency = report as Report & { baselineLatency?: LatencyReport };
  const cost = (m: Metrics, l: LatencyReport | undefined) => (metric === 'latency' ? batchOne(l)?.model.median ?? NaN : m[metric]);
  const points: PlotPoint[] = [{ x: cost(report.baseline, reportLatency.baselineLatency), y: report.baseline.valAccuracy, label: 'baseline', kind: 'baseline' }];
  const lastAccepted = [...report.stages].reverse().find((s) => s.status === 'accepted' && s.metrics);
  for (const s of report.stages) {
    const latency = (s as StageReport & { latency?: LatencyReport }).latency;
    if (metric !== 'latency') {
      for (const [i, e] of explored(s).entries()) {
        const x = e.sizes?.[metric];
        if (typeof x === 'number' && typeof e.accuracy === 'number') {
          points.push({ x, y: e.accuracy, label: `${s.name} candidate ${i + 1}${e.strategy ? ` (${e.strategy})` : ''}`, kind: 'candidate' });
        }
      }
    }
    if (!s.metrics) continue;
    const kind = s === lastAccepted ? 'final' : s.status === 'accepted' ? 'stage' : 'rejected';
    points.push({ x: cost(s.metrics, latency), y: s.metrics.valAccuracy, label: `after ${s.name} (${s.status})`, kind });
  }
  return points;
}

function explored(s: StageReport): ExploredPoint[] {
  const e = s.details?.explored;
  return Array.isArray(e) ? (e as ExploredPoint[]) : [];
}

function layerTable(s: StageReport): string {
  const layers = (Array.isArray(s.details?.layers) ? s.details!.layers : []) as LayerChange[];
  const changed = layers.filter((l) => Array.isArray(l.out) && l.out.length === 2);
  if (changed.length === 0) return '';
  const rows = changed.map((l) => {
    const [before, after] = l.out!;
    // Each row to its own scale: the kept share is what the eye compares.
    const bar = (v: number, cls: string) => `<span class="bar ${cls}" style="width:${(before ? (v / before) * 240 : 0).toFixed(1)}px"></span>`;
    return `<tr><th>${escapeHtml(l.layer)}</th><td>${escapeHtml(l.className ?? '')}</td><td>${num(before)}</td><td>${num(after)}</td>` +
      `<td>${before ? pct(after / before) : '–'}</td><td class="bars">${bar(before, 'before')}${bar(after, 'after')}</td></tr>`;
  });
  return `<h2>${escapeHtml(s.name)}: output channels per layer</h2>` +
    `<table class="layers"><thead><tr><th>layer</th><th>class</th><th>before</th><th>after</th><th>kept</th><th></th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

const CSS = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px auto;max-width:1500px;padding:0 16px;color:#1d232a;background:#fff}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
p.meta{color:#4b5563;margin:2px 0}
table{border-collapse:collapse;margin:8px 0}th,td{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:right;vertical-align:top}
th:first-child,td:nth-child(2){text-align:left}thead th{background:#f3f4f6;text-align:right}thead th:first-child,table.stages thead th:nth-child(2){text-align:left}
tr.final th,tr.final td{font-weight:600;background:#f0fdf4}small{color:#6b7280}
.plots{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;border:1px solid #e5e7eb;border-radius:6px;padding:8px}
figcaption{font-weight:600;margin:0 0 4px 4px}svg.plot text{font-size:11px;fill:#4b5563}svg.plot text.axis{font-size:12px;fill:#1d232a}
.legend span{display:inline-flex;align-items:center;gap:4px;margin-right:14px}
td.bars{text-align:left;width:260px}.bar{display:block;height:6px;margin:2px 0;border-radius:2px}.bar.before{background:#cbd5e1}.bar.after{background:#2e86de}
.reason{color:#b42318}
`;

export function renderHtml(report: Report): string {
  const r = report as Report & { baselineLatency?: LatencyReport; name?: string; target?: string };
  const lastAccepted = [...report.stages].reverse().find((s) => s.status === 'accepted' && s.metrics);
  const rows = [
    row('baseline', '', report.baseline, r.baselineLatency),
    ...report.stages.map((s) => row(s.name, `${s.status}${s.cached ? ' (cached)' : ''}`, s.metrics, (s as StageReport & { latency?: LatencyReport }).latency)),
    row('shipped', lastAccepted ? `= ${lastAccepted.name}` : '= baseline', report.final, lastAccepted ? (lastAccepted as StageReport & { latency?: LatencyReport }).latency : r.baselineLatency, 'final'),
  ];
  const reasons = report.stages.filter((s) => s.reason).map((s) => `<li><b>${escapeHtml(s.name)}</b> ${escapeHtml(s.status)}: <span class="reason">${escapeHtml(s.reason!)}</span></li>`);
  const engine = batchOne(r.baselineLatency) ? `${r.baselineLatency!.engine}` : report.engine.evaluation;
  const selfRatio = r.baselineLatency?.batches.map((b) => `b${b.batchSize} ${b.speedup.toFixed(3)}`).join(', ');
  const plots = [
    scatterSvg(stagePoints(report, 'params'), { title: 'Validation accuracy vs parameters', xLabel: 'parameters', logX: true }),
    scatterSvg(stagePoints(report, 'bytes'), { title: 'Validation accuracy vs bytes on disk', xLabel: 'bytes (model.json + shards)', logX: true }),
    scatterSvg(stagePoints(report, 'latency'), { title: 'Validation accuracy vs latency (batch 1)', xLabel: `ms per inference, median (${engine})`, logX: false }),
  ];
  const exportsList = Object.entries(report.exports).map(([f, p]) => `<li>${escapeHtml(f)}: <code>${escapeHtml(p)}</code></li>`);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>slimnet report${r.name ? ` — ${escapeHtml(r.name)}` : ''}</title><style>${CSS}</style></head>
<body>
<h1>slimnet report${r.name ? ` — ${escapeHtml(r.name)}` : ''}${r.target ? ` (target ${escapeHtml(r.target)})` : ''}</h1>
<p class="meta">Model <code>${escapeHtml(report.model.path)}</code> (sha256 ${report.model.sha256.slice(0, 12)}…) · data ${escapeHtml(String(report.data.source))}: ${num(report.data.train)}/${num(report.data.validation)}/${num(report.data.test)} train/validation/test · seed ${report.seed} · ${escapeHtml(report.tool.name)} ${escapeHtml(report.tool.version)}</p>
<p class="meta">Budget: validation accuracy ≥ ${pct(report.budget.minValAccuracy)} (baseline − ${pct(report.budget.maxAccuracyDrop)}). Accuracy measured on ${escapeHtml(report.engine.evaluation)}.</p>
<h2>Stages</h2>
<table class="stages"><thead><tr><th>step</th><th>status</th><th>val acc</th><th>test acc</th><th>params</th><th>bytes</th><th>MACs</th><th>latency, median (IQR)</th><th>speed-up vs baseline</th></tr></thead>
<tbody>${rows.join('')}</tbody></table>
${reasons.length ? `<ul>${reasons.join('')}</ul>` : ''}
<p class="meta">Latency: each model ran interleaved with the baseline in one process (A B A B …) on ${escapeHtml(engine)}; median with interquartile range; speed-up = the median over rounds of (baseline time ÷ model time) in the same round (&gt; 1 is faster), with the IQR of those ratios.${selfRatio ? ` The baseline against a copy of itself gives ${selfRatio}: how far from 1.00 noise alone moves a ratio on this machine.` : ''}</p>
<h2>Accuracy against cost</h2>
${legendHtml()}
<div class="plots">${plots.join('\n')}</div>
${report.stages.map(layerTable).join('\n')}
${exportsList.length ? `<h2>Exports</h2><ul>${exportsList.join('')}</ul>` : ''}
</body></html>
`;
}
