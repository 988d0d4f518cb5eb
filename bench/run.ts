/**
 * `npm run bench`: training (forward + backward + Adam, batch 64) and inference (batch 256) speed of the example CNN
 * and a heavier reference CNN on every available engine — onnxruntime-node (the ORT training engine and the ONNX
 * export), tfjs on wasm, tfjs-node when it loads, and the pure-JS cpu backend with --cpu (slow: a few batches) —
 * plus the wall time of `npm run compress`, cold and then warm (the bar: warm ≤ 5% of cold), and one `prune` row per
 * model (the example, the residual net, MobileNetV2 at 224×224: wall time, peak RSS, params/MACs/latency before →
 * after; bench/prune-bench.ts). Each speed figure is the median of several runs after a warm-up run.
 *
 *   tsx bench/run.ts [--json] [--skip-compress] [--cpu] [--runs 5] [--threads 1,2] [--prune example,resnet,mobilenet | --skip-prune]
 *
 * --json prints only `{ machine, results, compress: { cold, warm, ratio }, prune, prefixReuse }` on stdout (progress goes to stderr). ORT figures
 * in the JSON use one intra-op thread (what the targets assume); --threads adds rows for other counts to the table.
 * The prune rows take long (the residual net fine-tunes on 54,000 images, MobileNetV2 runs at 224×224): --prune
 * picks models, --skip-prune skips them. The shared-prefix rows (bench/prefix-reuse.ts: the sensitivity candidates
 * measured whole vs sharing the input model's forward prefix) run for --prefix resnet,mobilenet; --skip-prefix skips them.
 */
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { initEngine } from '../pipeline/engine.ts';
import { timeCompress, type CompressTimes } from './compress-time.ts';
import { INFER_BATCH, measureOrt, measureTfjs, TRAIN_BATCH, type Figure, type Plan, type Task } from './measure.ts';
import type { BenchModel } from './models.ts';
import { benchPrune, pruneTable } from './prune-bench.ts';
import type { PruneBenchModel } from './prune-child.ts';
import { benchPrefixReuse, DEFAULT_ROUNDS, prefixReuseTable, type PrefixBenchModel } from './prefix-reuse.ts';

type Engine = 'ort' | 'wasm' | 'tfjs-node' | 'cpu';

interface Result extends Figure {
  model: BenchModel;
  engine: Engine;
  task: Task;
}

const { values: args } = parseArgs({
  options: {
    json: { type: 'boolean', default: false },
    'skip-compress': { type: 'boolean', default: false },
    cpu: { type: 'boolean', default: false },
    runs: { type: 'string', default: '5' },
    threads: { type: 'string', default: '1,2' },
    prune: { type: 'string', default: 'example,resnet,mobilenet' },
    'skip-prune': { type: 'boolean', default: false },
    'skip-speed': { type: 'boolean', default: false },
    prefix: { type: 'string', default: 'resnet,mobilenet' },
    'skip-prefix': { type: 'boolean', default: false },
  },
});
const runs = Number(args.runs);
const extraThreads = args.threads.split(',').map(Number).filter((t) => Number.isInteger(t) && t > 1);
const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const MODELS: BenchModel[] = ['example', 'reference'];
const TASKS: Task[] = ['train', 'infer'];

/** Batches per timed run: enough for stable numbers, few enough that the default bench stays around a minute. */
function plan(engine: Engine, task: Task): Plan {
  if (engine === 'cpu') return { batchesPerRun: 1, runs: 1 };
  if (engine === 'ort') return { batchesPerRun: task === 'train' ? 20 : 8, runs };
  return { batchesPerRun: task === 'train' ? 4 : 4, runs };
}

const results: Result[] = [];
const extra: (Result & { threads: number })[] = [];
const record = (r: Result) => {
  results.push(r);
  log(`${r.model} ${r.engine} ${r.task}: ${r.msPerSample.toFixed(4)} ms/sample, ${r.samplesPerSecond.toFixed(0)} samples/s`);
};

// tfjs builds the models (then handed to ORT as IR): it needs a backend first.
await initEngine('wasm');
for (const model of args['skip-speed'] ? [] : MODELS) {
  for (const task of TASKS) {
    record({ model, engine: 'ort', task, ...(await measureOrt(model, task, plan('ort', task), 1)) });
    for (const threads of extraThreads) {
      const r = { model, engine: 'ort' as const, task, threads, ...(await measureOrt(model, task, plan('ort', task), threads)) };
      extra.push(r);
      log(`${model} ort (${threads} threads) ${task}: ${r.msPerSample.toFixed(4)} ms/sample`);
    }
  }
}

const tfjsEngines: Engine[] = ['wasm', 'tfjs-node', ...(args.cpu ? (['cpu'] as const) : [])];
for (const engine of tfjsEngines) {
  try {
    await initEngine(engine as 'wasm' | 'tfjs-node' | 'cpu');
  } catch (e) {
    log(`${engine}: not available (${(e as Error).message.split('\n')[0]})`);
    continue;
  }
  if (!args['skip-speed']) for (const model of MODELS) for (const task of TASKS) record({ model, engine, task, ...(await measureTfjs(model, task, plan(engine, task))) });
}

let compress: CompressTimes | null = null;
if (!args['skip-compress']) {
  log('timing a cold `npm run compress` on the example...');
  compress = await timeCompress(log);
}

const pruneModels = args['skip-prune'] ? [] : (args.prune.split(',').map((m) => m.trim()).filter(Boolean) as PruneBenchModel[]);
const prune = [];
for (const model of pruneModels) {
  log(`prune row: ${model}...`);
  prune.push(await benchPrune(model, log));
}

const prefixModels = args['skip-prefix'] ? [] : (args.prefix.split(',').map((m) => m.trim()).filter(Boolean) as PrefixBenchModel[]);
const prefixReuse = [];
for (const model of prefixModels) {
  log(`shared-prefix row: ${model}...`);
  prefixReuse.push(await benchPrefixReuse(model, DEFAULT_ROUNDS[model], log));
}

const cpuInfo = cpus();
const report = {
  machine: { cpus: cpuInfo.length, model: cpuInfo[0]?.model ?? 'unknown', node: process.version },
  results,
  compress,
  prune,
  prefixReuse,
};

if (args.json) {
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
} else {
  const rows = [
    ...results.map((r) => ({ ...r, label: r.engine === 'ort' ? 'ort (1 thread)' : r.engine })),
    ...extra.map((r) => ({ ...r, label: `ort (${r.threads} threads)` })),
  ];
  const lines = [
    `machine: ${report.machine.cpus} x ${report.machine.model}, node ${report.machine.node}`,
    '',
    '| model | engine | task | batch | ms/sample | samples/s |',
    '|---|---|---|---|---|---|',
    ...MODELS.flatMap((m) => TASKS.flatMap((t) => rows.filter((r) => r.model === m && r.task === t)))
      .map((r) => `| ${r.model} | ${r.label} | ${r.task} | ${r.batch} | ${r.msPerSample.toFixed(4)} | ${r.samplesPerSecond.toFixed(0)} |`),
    '',
    compress === null
      ? `npm run compress: ${args['skip-compress'] ? 'skipped' : 'failed'}`
      : `npm run compress: cold ${compress.cold.toFixed(1)} s, warm ${compress.warm.toFixed(1)} s = ${(compress.ratio * 100).toFixed(1)}% of cold ` +
        `(${compress.ratio <= 0.05 ? 'within' : 'OVER'} the 5% bar)`,
    `train batch ${TRAIN_BATCH} (forward + backward + Adam), infer batch ${INFER_BATCH}; medians of ${runs} runs after a warm-up` +
      (args.cpu ? '; cpu: one batch after a warm-up batch' : ''),
    ...(prefixReuse.length > 0 ? ['', ...prefixReuseTable(prefixReuse), 'shared-prefix rows: the prune sensitivity candidates on onnxruntime, each whole vs sharing the forward prefix; medians of alternating rounds (resnet 6, mobilenet 2)'] : []),
    ...(prune.length > 0 ? ['', ...pruneTable(prune), 'prune rows: one cold run each with only the prune stage (peak RSS from /usr/bin/time -v; load = 1-minute load average at start → end)'] : []),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
