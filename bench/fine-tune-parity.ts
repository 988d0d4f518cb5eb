/**
 * Fine-tunes the bundled example CNN from the same seed on both training engines — the ORT step graph and tfjs on
 * wasm — and compares their MNIST test accuracy (issue 4: within ±0.3 pt). Two runs: from a fresh seeded
 * initialisation (2 epochs), and from the committed baseline distilling from itself (1 epoch, alpha 0.5, T 4).
 *
 *   tsx bench/fine-tune-parity.ts [--json]
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildExampleModel } from '../examples/mnist-cnn/model.ts';
import { loadMnistPackage } from '../pipeline/data/mnist-package.ts';
import { initEngine } from '../pipeline/engine.ts';
import { createPredictor, measureQuality } from '../pipeline/evaluate.ts';
import { readModel } from '../pipeline/io/read-model.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { ortFineTune } from '../pipeline/train/ort/ort-fine-tune.ts';
import { tfjsFineTune } from '../pipeline/train/tfjs-fine-tune.ts';
import type { FineTuneOptions, FineTuneResult } from '../pipeline/train/types.ts';

const { values: args } = parseArgs({ options: { json: { type: 'boolean', default: false } } });
const log = (line: string) => process.stderr.write(`[parity] ${line}\n`);

await initEngine('wasm');
const { train, test } = loadMnistPackage();

async function testAccuracy(ir: ModelIR): Promise<number> {
  const predictor = await createPredictor(ir, 'auto');
  try {
    return (await measureQuality(predictor, test, 256)).accuracy;
  } finally {
    predictor.dispose();
  }
}

interface Row {
  run: string;
  start: number;
  ort: number;
  tfjs: number;
  diffPoints: number;
  ortSeconds: number;
  tfjsSeconds: number;
}

async function compare(run: string, ir: ModelIR, opts: FineTuneOptions): Promise<Row> {
  const start = await testAccuracy(ir);
  const results: Record<'ort' | 'tfjs', FineTuneResult> = {
    ort: await ortFineTune(ir, opts),
    tfjs: await tfjsFineTune(ir, opts),
  };
  const [ort, tfjs] = [await testAccuracy(results.ort.ir), await testAccuracy(results.tfjs.ir)];
  const row = { run, start, ort, tfjs, diffPoints: (ort - tfjs) * 100, ortSeconds: results.ort.seconds, tfjsSeconds: results.tfjs.seconds };
  log(`${run}: test accuracy ${(start * 100).toFixed(2)}% -> ORT ${(ort * 100).toFixed(2)}%, tfjs ${(tfjs * 100).toFixed(2)}% ` +
    `(Δ ${row.diffPoints.toFixed(2)} pt; ${row.ortSeconds.toFixed(1)} s vs ${row.tfjsSeconds.toFixed(1)} s)`);
  return row;
}

const common = { train, temperature: 4, alpha: 0, batchSize: 64, learningRate: 1e-3, optimizer: 'adam' as const, seed: 7 };
const fresh = buildExampleModel(11);
const freshIR = await irFromTfjsModel(fresh);
fresh.dispose();
const baseline = await readModel(join(resolve(import.meta.dirname, '..'), 'examples/mnist-cnn/model/model.json'));
const rows = [
  await compare('fresh init, 2 epochs', freshIR, { ...common, epochs: 2 }),
  await compare('baseline, self-distillation, 1 epoch', baseline, { ...common, epochs: 1, alpha: 0.5, teacher: baseline, learningRate: 3e-4 }),
];
if (args.json) {
  process.stdout.write(`${JSON.stringify({ trainSamples: train.count, testSamples: test.count, rows }, null, 2)}\n`);
} else {
  const lines = [
    `MNIST (mnist package): ${train.count} train, ${test.count} test; batch 64, Adam, seed 7, same batches on both engines`,
    '',
    '| run | start | ORT | tfjs wasm | Δ (pt) | ORT s | tfjs s |',
    '|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.run} | ${(r.start * 100).toFixed(2)}% | ${(r.ort * 100).toFixed(2)}% | ${(r.tfjs * 100).toFixed(2)}% | ${r.diffPoints.toFixed(2)} | ${r.ortSeconds.toFixed(1)} | ${r.tfjsSeconds.toFixed(1)} |`),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
