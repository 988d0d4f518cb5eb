/**
 * Inline SVG scatter plots for report.html: accuracy (y) against a cost (x: parameters, bytes, latency), one
 * series per kind of point, the Pareto front (no other point is both cheaper and at least as accurate) drawn as a
 * step line through its points. Plain strings, no script: the page renders the same with JavaScript off.
 */

export interface PlotPoint {
  x: number;
  y: number;
  label: string;
  kind: 'baseline' | 'stage' | 'rejected' | 'candidate' | 'final';
}

export const KIND_STYLE: Record<PlotPoint['kind'], { color: string; r: number; name: string }> = {
  candidate: { color: '#9aa5b1', r: 3.5, name: 'explored candidate' },
  rejected: { color: '#e4572e', r: 5, name: 'rejected stage' },
  stage: { color: '#2e86de', r: 5.5, name: 'stage output' },
  baseline: { color: '#222222', r: 6, name: 'baseline' },
  final: { color: '#17a34a', r: 7, name: 'shipped' },
};

const W = 460;
const H = 300;
const M = { left: 58, right: 16, top: 16, bottom: 44 };

export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Indices of the points on the Pareto front (lower x and higher y are better), sorted by x. */
export function paretoFront(points: Array<{ x: number; y: number }>): number[] {
  const order = points.map((_, i) => i).sort((a, b) => points[a]!.x - points[b]!.x || points[b]!.y - points[a]!.y);
  const front: number[] = [];
  let best = -Infinity;
  for (const i of order) {
    if (points[i]!.y > best) {
      front.push(i);
      best = points[i]!.y;
    }
  }
  return front;
}

function niceTicks(lo: number, hi: number, count: number): number[] {
  const span = hi - lo || Math.abs(hi) || 1;
  const step0 = span / count;
  const mag = 10 ** Math.floor(Math.log10(step0));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo && v <= hi) ticks.push(v);
    }
  }
  return ticks;
}

function compact(v: number): string {
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (v >= 1e3) return `${Number((v / 1e3).toPrecision(3))}k`;
  return `${Number(v.toPrecision(3))}`;
}

export interface ScatterOptions {
  title: string;
  xLabel: string;
  /** Log x axis (sizes spanning orders of magnitude). */
  logX: boolean;
}

export function scatterSvg(points: PlotPoint[], opts: ScatterOptions): string {
  const usable = points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!opts.logX || p.x > 0));
  if (usable.length === 0) return `<p class="empty">${escapeHtml(opts.title)}: nothing measured.</p>`;
  const xs = usable.map((p) => p.x);
  const ys = usable.map((p) => p.y * 100);
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  if (opts.logX) [x0, x1] = [x0 / 1.25, x1 * 1.25];
  else {
    const pad = (x1 - x0) * 0.08 || x1 * 0.1 || 1;
    [x0, x1] = [Math.max(0, x0 - pad), x1 + pad];
  }
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  const ypad = (y1 - y0) * 0.1 || 0.5;
  [y0, y1] = [y0 - ypad, Math.min(100, y1 + ypad)];
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const sx = (v: number) => M.left + (opts.logX ? (Math.log(v) - Math.log(x0)) / (Math.log(x1) - Math.log(x0)) : (v - x0) / (x1 - x0)) * pw;
  const sy = (v: number) => M.top + (1 - (v * 100 - y0) / (y1 - y0)) * ph;
  const f = (v: number) => v.toFixed(1);
  const parts: string[] = [];
  parts.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="#fbfbfd" stroke="#d0d4da"/>`);
  for (const t of opts.logX ? logTicks(x0, x1) : niceTicks(x0, x1, 5)) {
    const x = sx(t);
    parts.push(`<line x1="${f(x)}" y1="${M.top}" x2="${f(x)}" y2="${M.top + ph}" stroke="#eceef1"/>`,
      `<text x="${f(x)}" y="${M.top + ph + 16}" text-anchor="middle">${compact(t)}</text>`);
  }
  for (const t of niceTicks(y0, y1, 5)) {
    const y = M.top + (1 - (t - y0) / (y1 - y0)) * ph;
    parts.push(`<line x1="${M.left}" y1="${f(y)}" x2="${M.left + pw}" y2="${f(y)}" stroke="#eceef1"/>`,
      `<text x="${M.left - 6}" y="${f(y + 4)}" text-anchor="end">${Number(t.toPrecision(4))}%</text>`);
  }
  parts.push(`<text x="${M.left + pw / 2}" y="${H - 8}" text-anchor="middle" class="axis">${escapeHtml(opts.xLabel)}${opts.logX ? ' (log)' : ''}</text>`,
    `<text transform="translate(14 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle" class="axis">validation accuracy</text>`);
  const front = paretoFront(usable);
  if (front.length > 1) {
    // A step line: each front point holds its accuracy until the next, cheaper-to-dearer.
    let d = '';
    front.forEach((i, k) => {
      const p = usable[i]!;
      d += k === 0 ? `M${f(sx(p.x))},${f(sy(p.y))}` : `H${f(sx(p.x))}V${f(sy(p.y))}`;
    });
    parts.push(`<path d="${d}" fill="none" stroke="#f59f00" stroke-width="2" stroke-dasharray="5 3" class="pareto"/>`);
  }
  const onFront = new Set(front);
  // Candidates first, so stages and the baseline are drawn on top.
  const order = usable.map((_, i) => i).sort((a, b) => Object.keys(KIND_STYLE).indexOf(usable[a]!.kind) - Object.keys(KIND_STYLE).indexOf(usable[b]!.kind));
  for (const i of order) {
    const p = usable[i]!;
    const s = KIND_STYLE[p.kind];
    const ring = onFront.has(i) ? ` stroke="#f59f00" stroke-width="2.5"` : ` stroke="#ffffff" stroke-width="1"`;
    parts.push(`<circle cx="${f(sx(p.x))}" cy="${f(sy(p.y))}" r="${s.r}" fill="${s.color}"${ring} class="point ${p.kind}${onFront.has(i) ? ' front' : ''}"><title>${escapeHtml(p.label)}: ${compact(p.x)}, ${(p.y * 100).toFixed(2)}%${onFront.has(i) ? ' (Pareto front)' : ''}</title></circle>`);
  }
  return `<figure><figcaption>${escapeHtml(opts.title)}</figcaption><svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${escapeHtml(opts.title)}" class="plot">${parts.join('')}</svg></figure>`;
}

export function legendHtml(): string {
  const items = (Object.keys(KIND_STYLE) as PlotPoint['kind'][]).reverse().map((k) =>
    `<span><svg width="14" height="14"><circle cx="7" cy="7" r="5" fill="${KIND_STYLE[k].color}"/></svg>${KIND_STYLE[k].name}</span>`);
  items.push(`<span><svg width="22" height="14"><line x1="0" y1="7" x2="22" y2="7" stroke="#f59f00" stroke-width="2" stroke-dasharray="5 3"/></svg>Pareto front (ringed points)</span>`);
  return `<p class="legend">${items.join('')}</p>`;
}
