/**
 * onnxruntime-node latency of what a run ships against its input, side by side: the baseline model exported to ONNX
 * by this build and a run's ONNX artifact (or several: a comma list, e.g. two builds to compare), timed interleaved
 * (each round runs every model, in rotating order, on the same input) at several batch sizes, one intra-op thread
 * (as slimnet evaluates), the same session options for every model. Prints per batch size each model's median with
 * quartiles and the median of its per-round ratios to the baseline with their quartiles; then, to show where the
 * time goes, onnxruntime's own per-node kernel times (its profiler, batch 1 and the largest batch) and the
 * per-call floor of the binding (a graph of one Identity on the same input).
 *
 * `--bound-filters F` adds two reference graphs, exported by the same exporter, to show what a model of the
 * baseline's kind could reach at best: its first Conv2D (kernel, strides, padding, activation) with F filters, its
 * first pooling, Flatten and its output Dense straight after (no hidden layer), and its output Dense alone on the
 * flattened input — random weights (seeded): only their speed matters.
 *
 *   tsx bench/shipped-latency.ts [--baseline examples/mnist-cnn/model/model.json]
 *     [--candidate artifacts/mnist-cnn/export/onnx/model.onnx[,other.onnx…]] [--batches 1,32,64] [--rounds 400]
 *     [--bound-filters 8] [--json]
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { initEngine } from '../pipeline/engine.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { readModel } from '../pipeline/io/read-model.ts';
import { exportOnnx } from '../pipeline/onnx/export.ts';
import { GraphBuilder } from '../pipeline/onnx/builder.ts';
import { ortSessionOptions } from '../pipeline/onnx/ort.ts';
import { encodeModel } from '../pipeline/onnx/proto.ts';
import { openOrtTimed, type OrtTiming } from '../pipeline/measure/latency.ts';
import { createRng } from '../pipeline/random.ts';

const { values: args } = parseArgs({
  options: {
    baseline: { type: 'string', default: 'examples/mnist-cnn/model/model.json' },
    candidate: { type: 'string', default: 'artifacts/mnist-cnn/export/onnx/model.onnx' },
    batches: { type: 'string', default: '1,32,64' },
    rounds: { type: 'string', default: '400' },
    json: { type: 'boolean', default: false },
    'bound-filters': { type: 'string' },
  },
});
const batches = args.batches.split(',').map(Number);
const rounds = Number(args.rounds);
const WARMUP = 30;

const sessionOptions = (extra: ort.InferenceSession.SessionOptions = {}): ort.InferenceSession.SessionOptions =>
  ({ ...ortSessionOptions({ threads: 1 }), ...extra });

const baselineIr = await readModel(args.baseline);
const baselineBytes = exportOnnx(baselineIr);

/** The baseline's first Conv2D (with `filters`) → its first pooling → Flatten → its output Dense; or the Dense alone. */
async function boundModel(ir: ModelIR, filters: number | undefined): Promise<Uint8Array> {
  const find = (cls: string[]) => ir.layers.find((l) => cls.includes(l.className));
  const conv = find(['Conv2D']);
  const pool = find(['MaxPooling2D', 'AveragePooling2D']);
  const dense = [...ir.layers].reverse().find((l) => l.className === 'Dense');
  const input = ir.layers.find((l) => l.className === 'InputLayer')!;
  if (!dense || (filters !== undefined && (!conv || !pool))) throw new Error('--bound-filters needs a baseline with a Conv2D, a pooling layer and a Dense output');
  const m = tf.sequential();
  const inputShape = (input.config as unknown as { batchInputShape: number[] }).batchInputShape.slice(1);
  const c = conv?.config as unknown as { kernelSize: number[]; strides: number[]; padding: 'valid' | 'same'; activation: string } | undefined;
  if (filters !== undefined) {
    m.add(tf.layers.conv2d({ inputShape, filters, kernelSize: c!.kernelSize, strides: c!.strides, padding: c!.padding, activation: c!.activation as 'relu', seed: 1 } as never));
    const p = pool!.config as unknown as { poolSize: number[]; strides: number[]; padding: 'valid' | 'same' };
    const layer = pool!.className === 'MaxPooling2D' ? tf.layers.maxPooling2d : tf.layers.averagePooling2d;
    m.add(layer({ poolSize: p.poolSize as [number, number], strides: p.strides as [number, number], padding: p.padding }));
    m.add(tf.layers.flatten());
  } else {
    m.add(tf.layers.flatten({ inputShape }));
  }
  const d = dense.config as unknown as { units: number; activation: string };
  m.add(tf.layers.dense({ units: d.units, activation: d.activation as 'softmax' }));
  const bytes = exportOnnx(await irFromTfjsModel(m));
  m.dispose();
  return bytes;
}

const candidatePaths = args.candidate.split(',');
const candidateBytes: Uint8Array[] = candidatePaths.map((p) => new Uint8Array(readFileSync(p)));
/** Display names: "candidate" for one, else each file's path. */
const candidateNames = candidatePaths.length === 1 && !args['bound-filters'] ? ['candidate'] : candidatePaths;
if (args['bound-filters']) {
  await initEngine('wasm');
  const filters = Number(args['bound-filters']);
  candidateBytes.push(await boundModel(baselineIr, filters), await boundModel(baselineIr, undefined));
  candidateNames.push(`bound: Conv2D(${filters}) → pooling → output Dense`, 'bound: output Dense alone');
}
/** Timed: the baseline, the floor (set below), the candidates, in that order. */
const models: Record<string, Uint8Array> = { baseline: baselineBytes };

/** One Identity on the models' input: what a call costs the binding and the session before any kernel runs. */
function floorModel(inputName: string, shape: number[]): Uint8Array {
  const b = new GraphBuilder();
  const dims = [null, ...shape];
  b.claim(inputName);
  b.claim('y');
  b.addInput(inputName, dims);
  b.alias(inputName, 'y');
  b.addOutput('y', dims);
  return encodeModel({ irVersion: 8, opsetImport: [{ domain: '', version: 13 }], producerName: 'bench', graph: b.graph('floor') });
}

const probe = await ort.InferenceSession.create(candidateBytes[0]!, sessionOptions());
const inputName = probe.inputNames[0]!;
const sampleShape = (probe.inputMetadata?.[0] as { shape?: (number | string)[] } | undefined)?.shape?.slice(1).map(Number)
  ?? [28, 28, 1];
await probe.release();
models['one Identity (floor)'] = floorModel(inputName, sampleShape);
candidateNames.forEach((name, i) => (models[name] = candidateBytes[i]!));
const sampleSize = sampleShape.reduce((a, b) => a * b, 1);
const rng = createRng(7);
const input = Float32Array.from({ length: Math.max(...batches) * sampleSize }, () => rng.next());
const feed = (name: string, batch: number) => ({ [name]: new ort.Tensor('float32', input.subarray(0, batch * sampleSize), [batch, ...sampleShape]) });

interface Spread { median: number; q1: number; q3: number }
const spread = (values: number[]): Spread => {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.round(q * (s.length - 1)))]!;
  return { median: at(0.5), q1: at(0.25), q3: at(0.75) };
};

/** One turn of Node's event loop, as onnxruntime-node's public `run` takes before calling the runtime. */
const eventLoopTurn = { name: 'event-loop turn', run: () => new Promise<void>((resolve) => setImmediate(resolve)) };

/**
 * ms per run of each model by both methods (onnxruntime's Run through the binding, and the public API), and of one
 * event-loop turn, interleaved round by round in rotating order. Models are [baseline, floor, ...candidates].
 */
async function interleaved(batch: number): Promise<{ method: OrtTiming; refused?: string; run: number[][]; api: number[][]; turn: number[] }> {
  const timed = await openOrtTimed(Object.entries(models).map(([name, bytes]) => ({ name, bytes })), input.subarray(0, batch * sampleSize), [batch, ...sampleShape], { keepPublicApi: true });
  try {
    const runners = [...timed.runners, ...(timed.method === 'ort-run' ? timed.publicApi : []), eventLoopTurn];
    const times = runners.map(() => [] as number[]);
    for (let r = 0; r < rounds + WARMUP; r++) {
      for (let k = 0; k < runners.length; k++) {
        const i = (k + r) % runners.length;
        const t = process.hrtime.bigint();
        await runners[i]!.run();
        if (r >= WARMUP) times[i]!.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }
    const n = timed.runners.length;
    return { method: timed.method, refused: timed.refused, run: times.slice(0, n), api: timed.method === 'ort-run' ? times.slice(n, 2 * n) : [], turn: times[times.length - 1]! };
  } finally {
    await timed.release();
  }
}

interface Figures { baseline: Spread; ms: Spread; floor: Spread; ratio: Spread }
interface Row { batch: number; candidate: string; ortRun?: Figures; publicApi: Figures; eventLoopTurn: Spread }
const figures = (times: number[][], k: number): Figures => {
  const [base, floor] = [times[0]!, times[1]!];
  const cand = times[k + 2]!;
  return { baseline: spread(base), ms: spread(cand), floor: spread(floor), ratio: spread(base.map((t, i) => t / cand[i]!)) };
};
const rows: Row[] = [];
let refused: string | undefined;
for (const batch of batches) {
  const t = await interleaved(batch);
  refused ??= t.refused;
  candidateNames.forEach((candidate, k) => rows.push({
    batch, candidate, ...(t.method === 'ort-run' ? { ortRun: figures(t.run, k), publicApi: figures(t.api, k) } : { publicApi: figures(t.run, k) }), eventLoopTurn: spread(t.turn),
  }));
}

/** Median kernel µs per node over `runs` runs, from onnxruntime's profiler. */
async function nodeTimes(bytes: Uint8Array, batch: number, runs: number): Promise<{ node: string; op: string; us: number }[]> {
  const dir = mkdtempSync(join(tmpdir(), 'slimnet-profile-'));
  try {
    const s = await ort.InferenceSession.create(bytes, sessionOptions({ enableProfiling: true, profileFilePrefix: join(dir, 'p') }));
    const f = feed(s.inputNames[0]!, batch);
    for (let i = 0; i < runs; i++) await s.run(f);
    s.endProfiling();
    await s.release();
    const events = JSON.parse(readFileSync(join(dir, readdirSync(dir)[0]!), 'utf8')) as { cat: string; name: string; dur: number; args?: { op_name?: string } }[];
    const per = new Map<string, { op: string; us: number[] }>();
    for (const e of events) {
      if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
      const node = e.name.slice(0, -'_kernel_time'.length);
      const entry = per.get(node) ?? per.set(node, { op: e.args?.op_name ?? '?', us: [] }).get(node)!;
      entry.us.push(e.dur);
    }
    return [...per].map(([node, { op, us }]) => ({ node, op, us: spread(us).median }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const profiles: Record<string, Record<number, { node: string; op: string; us: number }[]>> = {};
for (const [name, bytes] of Object.entries(models)) {
  if (name === 'one Identity (floor)') continue;
  profiles[name] = {};
  for (const batch of [batches[0]!, batches[batches.length - 1]!]) profiles[name]![batch] = await nodeTimes(bytes, batch, Math.min(rounds, 200));
}

if (args.json) {
  console.log(JSON.stringify({ baseline: args.baseline, candidate: args.candidate, rounds, latency: rows, profiles }, null, 1));
} else {
  const f = (s: Spread) => `${s.median.toFixed(3)} (${s.q1.toFixed(3)}–${s.q3.toFixed(3)})`;
  const named = candidateNames.length > 1;
  const table = (what: string, pick: (r: Row) => Figures | undefined) => {
    console.log(`\n${what}; ${rounds} interleaved rounds, onnxruntime-node, 1 thread; ms: median (quartiles)`);
    console.log(`| batch |${named ? ' candidate |' : ''} baseline ms | candidate ms | baseline / candidate, per round | one Identity (floor) ms |`);
    console.log(`|---|${named ? '---|' : ''}---|---|---|---|`);
    for (const r of rows) {
      const x = pick(r)!;
      console.log(`| ${r.batch} |${named ? ` ${r.candidate} |` : ''} ${f(x.baseline)} | ${f(x.ms)} | ${x.ratio.median.toFixed(2)}× (${x.ratio.q1.toFixed(2)}–${x.ratio.q3.toFixed(2)}) | ${f(x.floor)} |`);
    }
  };
  if (rows[0]?.ortRun) table("onnxruntime's Run (through onnxruntime-node's binding, synchronous)", (r) => r.ortRun);
  else console.log(`onnxruntime's Run not timed directly: ${refused}`);
  table("onnxruntime-node's public API (await session.run(): one event-loop turn more per call)", (r) => r.publicApi);
  console.log(`\none event-loop turn (setImmediate) alone, same rounds: ${[...new Map(rows.map((r) => [r.batch, r.eventLoopTurn])).entries()].map(([b, s]) => `batch ${b} ${f(s)}`).join(', ')} ms`);
  for (const [name, byBatch] of Object.entries(profiles)) {
    for (const [batch, nodes] of Object.entries(byBatch)) {
      const total = nodes.reduce((a, n) => a + n.us, 0);
      console.log(`\n${name}, batch ${batch}: kernel µs per node (onnxruntime profiler, median), total ${total}`);
      for (const n of nodes) console.log(`  ${String(n.us).padStart(6)}  ${n.op.padEnd(16)} ${n.node}`);
    }
  }
}
