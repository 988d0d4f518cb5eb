/**
 * `npm run bench`'s shared-prefix rows: the prune stage's sensitivity candidates (each group of the model pruned
 * alone at each sensitivity ratio, by the l1 criterion, roundTo 4 — the plans the stage evaluates; reconstruction is
 * left out, it changes only layers after the cut) measured on validation-sized data two ways through the stage
 * context, as the stage measures them: each candidate whole (ctx.evaluateCandidate on a p-queue of `concurrency`),
 * and all together sharing the input model's forward prefix (ctx.evaluateCandidates). Rounds alternate the order
 * (whole, shared / shared, whole); the row gives the median wall time of each, forward MACs with and without the
 * shared prefix (the IR's count), the largest accuracy difference between the two (0 expected), and the load.
 *
 *   tsx bench/prefix-reuse.ts [--models resnet,mobilenet] [--rounds N]   (default: 6 for resnet, 2 for mobilenet)
 *
 * resnet: examples/fashion-resnet's model, 1,024 Fashion-MNIST test images (the stage's default sensitivitySamples),
 * ratios 0.25/0.5/0.75/0.9. mobilenet: the bench's MobileNetV2 at 224×224×3 (bench/mobilenet-fixture.ts, built
 * once into the prune bench's fixture folder), 64 images and ratio 0.25 (its prune options in bench/prune-child.ts).
 */
import { existsSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import PQueue from 'p-queue';
import type { DataSplits, LabelledSet } from '../pipeline/data/types.ts';
import { loadIdxFolder } from '../pipeline/data/idx.ts';
import { subset } from '../pipeline/data/splits.ts';
import { initEngine } from '../pipeline/engine.ts';
import { analyzeChannels } from '../pipeline/graph/channel-groups.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { readModel } from '../pipeline/io/read-model.ts';
import type { Metrics } from '../pipeline/metrics.ts';
import { createPlanner, planFromRatios } from '../pipeline/prune/allocate.ts';
import { scoreClasses } from '../pipeline/prune/criteria.ts';
import { removeChannels } from '../pipeline/prune/remove-channels.ts';
import { planWork } from '../pipeline/prune/work-plan.ts';
import { createStageContext } from '../pipeline/stage-context.ts';
import { DEFAULT_MEMORY_BUDGET_MB } from '../pipeline/memory.ts';
import { fashionMnistAvailable, FASHION_MNIST_DIR } from './images.ts';
import { loadMobileNetBenchData, MOBILENET_BENCH, prepareMobileNetBench } from './mobilenet-fixture.ts';
import { MOBILENET_FIXTURE_DIR } from './prune-bench.ts';

export type PrefixBenchModel = 'resnet' | 'mobilenet';

export interface PrefixReuseRow {
  model: PrefixBenchModel;
  candidates: number;
  samples: number;
  concurrency: number;
  /** Median wall seconds of the rounds: every candidate whole, and sharing the prefix. */
  wholeSeconds: number;
  sharedSeconds: number;
  macsWhole: number;
  macsShared: number;
  /** Largest |accuracy difference| of a candidate between the two ways (0 expected). */
  maxAccuracyDelta: number;
  rounds: number;
  load: [number, number];
}

const ROOT = resolve(import.meta.dirname, '..');
/** The MobileNetV2 prune run's sensitivitySamples and sensitivityRatios (bench/prune-child.ts; that module runs on import). */
const MOBILENET_SENSITIVITY = { samples: 64, ratios: [0.25] };

async function inputOf(model: PrefixBenchModel, log: (line: string) => void): Promise<{ ir: ModelIR; set: LabelledSet; ratios: number[] }> {
  if (model === 'resnet') {
    const ir = await readModel(join(ROOT, 'examples', 'fashion-resnet', 'model', 'model.json'));
    const { test } = await loadIdxFolder(FASHION_MNIST_DIR);
    return { ir, set: subset(test, Array.from({ length: 1024 }, (_, i) => i)), ratios: [0.25, 0.5, 0.75, 0.9] };
  }
  const dir = MOBILENET_FIXTURE_DIR;
  log(`mobilenet: the trained MobileNetV2 input (built once into ${dir}; not timed)...`);
  const modelJson = await prepareMobileNetBench(dir, MOBILENET_BENCH, log);
  const data = await loadMobileNetBenchData(dir);
  const per = data.sampleShape.reduce((a, b) => a * b, 1);
  const n = MOBILENET_SENSITIVITY.samples;
  const set: LabelledSet = { x: Float32Array.from(data.test.x.slice(0, n * per)), y: Int32Array.from(data.test.y!.slice(0, n)), count: n, sampleShape: data.sampleShape, numClasses: data.numClasses ?? MOBILENET_BENCH.classes };
  return { ir: await readModel(modelJson), set, ratios: MOBILENET_SENSITIVITY.ratios };
}

/** The sensitivity analysis's plans: each group alone at each ratio (l1, roundTo 4), distinct and non-empty. */
async function sensitivityCandidates(ir: ModelIR, ratios: number[]): Promise<ModelIR[]> {
  const analysis = analyzeChannels(ir);
  // l1 reads weights only: no data.
  const scores = await scoreClasses('l1', { ir, analysis, data: { x: new Float32Array(0), y: new Int32Array(0), count: 0, sampleShape: [1], numClasses: 1 }, batchSize: 64 });
  const planner = createPlanner(analysis, scores, 1, 4);
  const seen = new Set<string>();
  const out: ModelIR[] = [];
  for (const g of planner.groups) {
    for (const r of ratios) {
      const removed = planFromRatios(planner, new Map([[g.id, r]]));
      const key = [...removed].sort((a, b) => a - b).join(',');
      if (removed.size === 0 || seen.has(key)) continue;
      seen.add(key);
      out.push(removeChannels(ir, analysis, removed));
    }
  }
  return out;
}

/** Rounds per model by default: the residual net's take seconds and vary with the load, MobileNetV2's take a minute. */
export const DEFAULT_ROUNDS: Record<PrefixBenchModel, number> = { resnet: 6, mobilenet: 2 };

export async function benchPrefixReuse(model: PrefixBenchModel, rounds: number, log: (line: string) => void): Promise<PrefixReuseRow | { model: PrefixBenchModel; skipped: string }> {
  if (!fashionMnistAvailable() || (model === 'resnet' && !existsSync(join(ROOT, 'examples', 'fashion-resnet', 'model', 'model.json')))) {
    return { model, skipped: "needs Debian's dataset-fashion-mnist (apt-get install dataset-fashion-mnist)" };
  }
  const { ir, set, ratios } = await inputOf(model, log);
  const candidates = await sensitivityCandidates(ir, ratios);
  const work = planWork(ir, { memoryBudgetMB: DEFAULT_MEMORY_BUDGET_MB, evalBatch: 256, trainBatch: 64, calibrationSamples: 1024 });
  const data: DataSplits = { train: set, validation: set, test: set, fingerprint: 'bench', describe: {} };
  const baseline = { valAccuracy: 1, testAccuracy: 1, loss: 0, params: 0, macs: 0, bytes: 0 } as Metrics;
  const ctx = createStageContext({ data, seed: 1, stageDir: tmpdir(), baseline, budget: { maxDrop: 0 }, evaluation: { engine: 'ort', batchSize: 256 } });
  const opts = { batchSize: work.evalBatch, concurrency: work.concurrency };
  log(`${model}: ${candidates.length} candidates on ${set.count} samples, concurrency ${work.concurrency}, batch ${work.evalBatch}`);
  const load0 = loadavg()[0]!;
  const times = { whole: [] as number[], shared: [] as number[] };
  let whole: number[] = [];
  let shared: number[] = [];
  let reuse: { macsWhole: number; macsShared: number } | undefined;
  const timed = async (way: 'whole' | 'shared') => {
    const started = performance.now();
    if (way === 'whole') {
      const queue = new PQueue({ concurrency: work.concurrency });
      whole = (await Promise.all(candidates.map((c) => queue.add(() => ctx.evaluateCandidate(c, opts))))).map((r) => r!.accuracy);
    } else {
      const r = await ctx.evaluateCandidates(ir, candidates, opts);
      shared = r.results.map((x) => x.accuracy);
      reuse = r.reuse;
    }
    times[way].push((performance.now() - started) / 1000);
    log(`${model}: ${way} ${times[way].at(-1)!.toFixed(1)} s`);
  };
  for (let i = 0; i < rounds; i++) {
    for (const way of i % 2 === 0 ? (['whole', 'shared'] as const) : (['shared', 'whole'] as const)) await timed(way);
  }
  const median = (v: number[]) => {
    const s = [...v].sort((a, b) => a - b);
    return (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2;
  };
  if (!reuse) throw new Error('the shared evaluation reported no reuse (did onnxruntime refuse the model?)');
  return {
    model, candidates: candidates.length, samples: set.count, concurrency: work.concurrency, rounds,
    wholeSeconds: median(times.whole), sharedSeconds: median(times.shared), macsWhole: reuse.macsWhole, macsShared: reuse.macsShared,
    maxAccuracyDelta: Math.max(0, ...whole.map((a, i) => Math.abs(a - shared[i]!))), load: [load0, loadavg()[0]!],
  };
}

export function prefixReuseTable(rows: (PrefixReuseRow | { model: PrefixBenchModel; skipped: string })[]): string[] {
  return [
    '| model | candidates × samples | whole: wall (median) | shared prefix: wall | speed-up | forward MACs whole → shared | max Δ accuracy | load |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => ('skipped' in r
      ? `| ${r.model} | skipped: ${r.skipped} | | | | | | |`
      : `| ${r.model} | ${r.candidates} × ${r.samples} | ${r.wholeSeconds.toFixed(1)} s | ${r.sharedSeconds.toFixed(1)} s | ${(r.wholeSeconds / r.sharedSeconds).toFixed(2)}× | ` +
        `${r.macsWhole.toExponential(3)} → ${r.macsShared.toExponential(3)} (${(r.macsWhole / r.macsShared).toFixed(2)}× fewer) | ${r.maxAccuracyDelta} | ${r.load[0].toFixed(1)} → ${r.load[1].toFixed(1)} |`)),
  ];
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { models: { type: 'string', default: 'resnet,mobilenet' }, rounds: { type: 'string' } } });
  await initEngine('wasm');
  const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
  const rows = [];
  for (const m of values.models.split(',').map((s) => s.trim()).filter(Boolean) as PrefixBenchModel[]) rows.push(await benchPrefixReuse(m, values.rounds ? Number(values.rounds) : DEFAULT_ROUNDS[m], log));
  process.stdout.write(`${prefixReuseTable(rows).join('\n')}\n`);
}
