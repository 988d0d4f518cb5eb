/**
 * Candidate evaluation that runs each candidate's unchanged prefix once. Search candidates are copies of one
 * reference model that differ from some layer on (a pruned group and what follows it); up to their cut
 * (pipeline/graph/cut.ts) every one of them computes what the reference computes. So per batch of the set, the
 * reference runs once up to the union of the candidates' cuts (one onnxruntime session whose outputs are the cut
 * tensors), and then each candidate runs only its suffix (a session whose inputs are its cut tensors) on them.
 * Only one batch's cut activations are held at a time (two while the next batch's prefix runs beside this batch's
 * suffixes), never the whole set's, and the batch is lowered until they and the sessions' working memory fit.
 *
 * Numerics: the prefix and the suffixes are the same ONNX export of the same layers (feature maps cross the cut
 * channels-first, as the graphs hold them, so neither side transposes them). What can differ from running a
 * candidate whole is the export's graph rewrites at the cut: a BatchNormalization is not folded into a producer whose
 * output is a cut tensor, and onnxruntime's own fusions stop at a graph boundary. Outputs then agree to float
 * reassociation (relative 1e-5; the parity tests measure it), and quality is scored by the same meter.
 */
import * as ort from 'onnxruntime-node';
import { batches, type Batch } from './data/splits.ts';
import type { LabelledSet } from './data/types.ts';
import { findCut, prefixModel, suffixModel } from './graph/cut.ts';
import { countMacs } from './graph/macs.ts';
import { inferShapes } from './graph/shapes.ts';
import type { ModelIR } from './ir.ts';
import { isClass } from './layers/registry.ts';
import { batchWithin, footprint, inferenceBytesPerSample } from './memory.ts';
import type { Accuracy } from './metrics.ts';
import { exportOnnx } from './onnx/export.ts';
import { createOrtSession, type OrtSession } from './onnx/ort.ts';
import { qualityMeter } from './quality-meter.ts';

export interface SharedEvaluationOptions {
  /** Largest batch; lowered until the batch fits `memoryBytes`. */
  batchSize: number;
  /** Bytes the evaluation's activations may take: two batches of cut tensors, the prefix run and `concurrency` suffix runs. */
  memoryBytes: number;
  /** Suffix runs at once (one single-threaded onnxruntime session each); results do not depend on it. */
  concurrency: number;
}

/** What sharing saved: forward MACs (per the IR's count) over the whole set, with and without the shared prefix. */
export interface PrefixReuse {
  candidates: number;
  /** Candidates that ran only a suffix (the others, changed from their first layer on, ran whole). */
  suffixOnly: number;
  /** Tensors the shared prefix outputs (the union of the cuts). */
  cutTensors: number;
  batchSize: number;
  samples: number;
  /** MACs every candidate run whole would have cost (each candidate's MACs × samples). */
  macsWhole: number;
  /** MACs of the prefix once plus every suffix, × samples. */
  macsShared: number;
}

/** A candidate's part: the model it runs (its suffix, or itself) and where each of its inputs comes from. */
interface Part {
  ir: ModelIR;
  /** Its output is the reference's (nothing changed upstream of it): read straight from the prefix. */
  direct?: string;
}

/** Each candidate's quality on `set` (measureQuality's, in the same order) and the work the shared prefix saved. */
export async function measureSharingPrefix(reference: ModelIR, candidates: ModelIR[], set: LabelledSet, opts: SharedEvaluationOptions): Promise<{ results: Accuracy[]; reuse: PrefixReuse }> {
  const meters = candidates.map(() => qualityMeter(set));
  const reuse = await runSharingPrefix(reference, candidates, set, opts, (i, out, batch) => meters[i]!.add(out, batch));
  return { results: meters.map((m) => m.result()), reuse };
}

/**
 * The engine of measureSharingPrefix: every candidate's first output on every batch of `set`, handed to `onOutput`
 * (candidate index, its output rows for the batch, the batch) in batch order per candidate.
 */
export async function runSharingPrefix(
  reference: ModelIR, candidates: ModelIR[], set: LabelledSet, opts: SharedEvaluationOptions, onOutput: (candidate: number, out: Float32Array, batch: Batch) => void,
): Promise<PrefixReuse> {
  if (reference.inputs.length !== 1) throw new Error('measureSharingPrefix: the reference must have one input');
  const input = reference.inputs[0]!;
  const shapes = inferShapes(reference);
  const union = new Set<string>();
  const parts: Part[] = candidates.map((candidate) => {
    const cut = findCut(reference, candidate);
    if (!cut) {
      union.add(candidate.outputs[0]!);
      return { ir: candidate, direct: candidate.outputs[0]! };
    }
    // A changed model input is not a cut the set's samples can feed: that candidate runs whole.
    const byName = new Map(candidate.layers.map((l) => [l.name, l]));
    if (cut.suffix.some((n) => isClass(byName.get(n)!, 'InputLayer'))) return { ir: candidate };
    for (const t of cut.tensors) union.add(t);
    return { ir: suffixModel(candidate, cut, shapes) };
  });
  const cutTensors = reference.layers.map((l) => l.name).filter((n) => union.has(n));
  const prefix = prefixModel(reference, cutTensors);

  const referenceMacs = countMacs(reference).perLayer;
  const prefixMacs = prefix ? prefix.layers.reduce((s, l) => s + (referenceMacs[l.name] ?? 0), 0) : 0;
  const macsWhole = candidates.reduce((s, c) => s + countMacs(c).total, 0);
  const macsShared = prefixMacs + parts.reduce((s, p) => s + (p.direct ? 0 : countMacs(p.ir).total), 0);

  const size = (name: string) => 4 * shapes.get(name)!.reduce((a, b) => a * b, 1);
  const cutBytes = cutTensors.filter((t) => t !== input).reduce((s, t) => s + size(t), 0);
  const inference = (ir: ModelIR) => {
    const f = footprint(ir);
    return f ? inferenceBytesPerSample(f) : 0;
  };
  const running = parts.filter((p) => !p.direct);
  const perSample = 2 * cutBytes + (prefix ? inference(prefix) : 0) + Math.min(opts.concurrency, running.length) * Math.max(0, ...running.map((p) => inference(p.ir)));
  const batchSize = batchWithin(opts.batchSize, perSample, opts.memoryBytes);

  const sessions: OrtSession[] = [];
  let inFlight: Promise<unknown> | undefined;
  // Feature maps cross the cut channels-first, as the ONNX graphs compute them: no transpose on either side.
  const direct = new Set(parts.flatMap((p) => (p.direct ? [p.direct] : [])));
  const channelsFirst = new Set(cutTensors.filter((t) => t !== input && !direct.has(t)));
  const open = async (ir: ModelIR) => {
    const s = await createOrtSession(exportOnnx(ir, { channelsFirst }), { threads: 1 });
    sessions.push(s);
    return s;
  };
  try {
    const prefixSession = prefix ? await open(prefix) : undefined;
    const suffixSessions = await Promise.all(parts.map((p) => (p.direct ? undefined : open(p.ir))));
    const runPrefix = async (batch: Batch) => {
      const x = new ort.Tensor('float32', batch.x, [batch.size, ...set.sampleShape]);
      const computed = prefixSession ? await prefixSession.run({ [prefixSession.inputNames[0]!]: x }, prefix!.outputs) : {};
      return { batch, tensors: { ...computed, [input]: x } as Record<string, ort.Tensor> };
    };
    const iterator = batches(set, batchSize);
    const nextBatch = () => {
      const r = iterator.next();
      if (r.done) return undefined;
      const p = runPrefix(r.value);
      p.catch(() => undefined); // awaited below; a failure while this batch's suffixes run must not go unhandled
      return (inFlight = p);
    };
    let pending = nextBatch();
    while (pending) {
      const { batch, tensors } = await pending;
      // The next batch's prefix runs while this batch's suffixes do: the prefix session is otherwise a serial point.
      pending = nextBatch();
      await eachLimited(parts.map((p, i) => ({ p, i })), opts.concurrency, async ({ p, i }) => {
        if (p.direct) {
          onOutput(i, tensors[p.direct]!.data as Float32Array, batch);
          return;
        }
        const session = suffixSessions[i]!;
        const feeds = Object.fromEntries(p.ir.inputs.map((name) => [name, tensors[name]!]));
        const outName = session.outputNames[0]!;
        const out = (await session.run(feeds, [outName]))[outName]!;
        onOutput(i, out.data as Float32Array, batch);
        out.dispose();
      });
      for (const [name, t] of Object.entries(tensors)) if (name !== input) t.dispose();
    }
    const samples = set.count;
    return { candidates: candidates.length, suffixOnly: parts.filter((p, i) => p.ir !== candidates[i]).length, cutTensors: cutTensors.length, batchSize, samples, macsWhole: macsWhole * samples, macsShared: macsShared * samples };
  } finally {
    await inFlight?.catch(() => undefined);
    for (const s of sessions) await s.release();
  }
}

/** fn over items, at most `limit` at a time, each item once. */
async function eachLimited<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
