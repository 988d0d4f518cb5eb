import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Metrics } from '../../pipeline/metrics.ts';
import { renderMarkdown, REPORT_SCHEMA_VERSION, type Report } from '../../pipeline/report.ts';
import { STAGES } from '../../stages/index.ts';
import { wilsonInterval } from '../../pipeline/confidence.ts';
import { stageGate } from '../../pipeline/report-validation.ts';

const m = (valAccuracy: number, params: number): Metrics => ({ valAccuracy, testAccuracy: valAccuracy - 0.01, loss: 0.1, params, bytes: params * 4, macs: params * 2 });

const stats = (median: number) => ({ median, p25: median * 0.9, p75: median * 1.1, min: median * 0.8, max: median * 1.2, runs: 10 });

const report: Report = {
  schemaVersion: REPORT_SCHEMA_VERSION,
  ok: true,
  exitCode: 0,
  tool: { name: 'slimnet', version: '0.0.0' },
  model: { path: 'm/model.json', format: 'tfjs-layers', sha256: 'a'.repeat(64), fileBytes: 1000 },
  data: { source: 'idx', fingerprint: 'f', train: 90, validation: 10, test: 20 },
  quality: { task: 'classify', labels: 'data', metric: 'accuracy' },
  budget: { metric: 'accuracy', maxAccuracyDrop: 0.01, minValAccuracy: 0.89 },
  validation: {
    size: 10, source: { kind: 'carved', fraction: 0.1, seed: 42 }, interval: { method: 'wilson', level: 0.95 },
    baseline: { valAccuracy: 0.9, ...wilsonInterval(0.9, 10) }, warning: 'the budget (1.00 pt) is smaller than …',
  },
  signature: {
    inputs: [{ name: 'image', shape: [null, 6, 6, 1], layout: 'NHWC (batch, height, width, channels)', dtype: 'float32', scaling: { raw: 'uint8 (0–255)', scale: 1 / 255, offset: 0, text: 'x = raw / 255 ([0, 255] → [0, 1])' } }],
    outputs: [{ name: 'head', shape: [null, 3], dtype: 'float32', meaning: 'logits', activation: 'linear', activationLayer: 'head', classes: 3 }],
  },
  engine: { backend: 'wasm', evaluation: 'onnxruntime-node' },
  seed: 1,
  baseline: m(0.9, 1000),
  stages: [
    {
      name: 'prune', status: 'accepted', seconds: 1, onBudgetMiss: 'reject', cached: false, metrics: m(0.895, 250), gate: stageGate(0.895, 10, 0.89, true), artifacts: { model: 'prune/model/model.json' }, options: {},
      latency: {
        engine: 'onnxruntime-node', method: 'ort-run', reference: 'baseline',
        batches: [{ batchSize: 1, model: stats(0.05), reference: stats(0.1), speedup: 2.01, pairedSpeedup: stats(2.01), medianRatio: 2 }],
      },
      details: {
        layers: [{ layer: 'conv', className: 'Conv2D', out: [16, 4] }, { layer: 'head', className: 'Dense', in: [64, 16] }],
        recovery: [{ step: 'removal', valAccuracy: 0.5, valLoss: 2, testAccuracy: 0.5 }],
        fineTune: { engine: 'ort', samples: 640, finalLoss: 0.1, kept: true },
      },
      timings: { seconds: 1, fineTuneSeconds: 0.5 },
    },
    { name: 'export', status: 'rejected', reason: 'below the floor', seconds: 1, onBudgetMiss: 'reject', cached: true, metrics: m(0.8, 250), artifacts: {}, options: {}, details: { formats: { onnx: { artifact: 'onnx/model.onnx', bytes: 1234, expectation: 'float', parity: { samples: 20, top1Agreement: 1, maxAbsDiff: 1e-6, accuracy: 0.9 }, check: { checker: 'onnx.checker 1.12.0', status: 'passed' } } } } },
  ],
  final: m(0.895, 250),
  exports: {},
  seconds: 2,
};

test('report.md: the metrics table, reasons, and each stage its own section from its details', () => {
  const renderers = Object.fromEntries(Object.entries(STAGES).map(([n, d]) => [n, d?.renderDetails?.bind(d)]));
  const md = renderMarkdown(report, renderers);
  assert.match(md, /\| prune \| accepted \| 89\.50% \| 88\.50% \| 250 \| 1,000 \| 500 \| b1 0\.050 ms ×2\.01 \|/);
  assert.match(md, /\| export \| rejected \(cached\) \|/);
  assert.match(md, /export\*\* rejected: below the floor/);
  assert.match(md, /## prune[\s\S]*\| conv \| Conv2D \|  \| 16 → 4 \|/);
  assert.match(md, /\| head \| Dense \| 64 → 16 \|  \|/);
  assert.match(md, /\| removal \| 50\.00% \| 50\.00% \| 2\.0000 \|/);
  assert.match(md, /Fine-tuning: 640 samples on ort in 0\.5 s \(kept\)/, 'the wall time comes from the timings');
  assert.match(md, /## export[\s\S]*\| onnx \| 1,234 \| float \| 100\.00% \| 1\.00e-6 \| 90\.00% \| – \| passed \|/);
});

test('report.md: where validation came from, its interval and the budget warning, the gates, and how to call the model', () => {
  const md = renderMarkdown(report);
  assert.match(md, /Validation: 10 samples carved from the training data \(10\.00%, validationSeed 42\); baseline 90\.00%, 95% Wilson interval 59\.58%–98\.21%/);
  assert.match(md, /\*\*Warning:\*\* the budget \(1\.00 pt\) is smaller than/);
  assert.match(md, /## Gates[\s\S]*\| prune \| 89\.50% \| 59\.\d\d%–98\.\d\d% \| 89\.00% \| passed \(close call: the floor is inside the interval\) \|/);
  assert.match(md, /## Using the model\n\n```\ninput  "image": float32 \[batch, 6, 6, 1\], layout NHWC \(batch, height, width, channels\); scaling: x = raw \/ 255/);
  assert.match(md, /output "head": float32 \[batch, 3\]: logits \(no final activation: apply softmax for probabilities\)/);
});

test('report.md without renderers still has the table', () => {
  const md = renderMarkdown(report);
  assert.doesNotMatch(md, /## prune/);
  assert.match(md, /\| \*\*final\*\* \|/);
});

test('report.md opens with one verdict line: OK, FAILED on a budget miss with onBudgetMiss fail, FAILED on a failed stage', () => {
  const first = (r: Report) => renderMarkdown(r).split('\n')[0]!;
  assert.equal(first(report),
    '# slimnet: OK (exit 0) — params 1,000 → 250 (4.00× fewer); validation accuracy 90.00% → 89.50% (floor 89.00%); rejected and skipped over: export (validation 80.00%); no exports');
  const failing: Report = { ...report, ok: false, exitCode: 1, stages: report.stages.map((s) => (s.name === 'export' ? { ...s, onBudgetMiss: 'fail' as const } : s)) };
  assert.match(first(failing), /^# slimnet: FAILED \(exit 1, a requirement not met\) — export \(validation 80\.00%\) missed the budget floor 89\.00% and onBudgetMiss is 'fail'/);
  const broken: Report = { ...report, ok: false, exitCode: 2, stages: [{ ...report.stages[1]!, status: 'failed', reason: 'layer "p" (Permute): not supported' }] };
  assert.equal(first(broken), '# slimnet: FAILED (exit 2, bad input) — export failed: layer "p" (Permute): not supported');
});
