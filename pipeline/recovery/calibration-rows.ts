/**
 * Calibration rows, streamed. A least-squares refit (prune's reconstruction, separable's pair refits) needs, per
 * layer, its input as a matrix of rows: im2col patches for a Conv2D, input vectors for a Dense. Whole feature maps
 * of every calibration image would take gigabytes at 224×224 (MobileNetV2's first block alone: 1.6 MB per image
 * and layer), so, as in He et al. 2017 ("Channel Pruning for Accelerating Very Deep Neural Networks": 10 random
 * positions per image) and AIMET's channel pruning, each layer gets a seeded sample of (image, output position)
 * pairs, and only those positions' patches are kept while calibration images stream through the model batch by
 * batch. A layer's rows are capped by
 * `maxRows` whatever the number of calibration images, so memory follows the budget, not the data.
 */
import { openActivationReader, type ActivationEngine } from '../calibrate.ts';
import { batches } from '../data/splits.ts';
import type { LabelledSet } from '../data/types.ts';
import type { LayerIR, ModelIR } from '../ir.ts';
import { batchWithin, inferenceBytesPerSample, type Footprint } from '../memory.ts';
import { layerClass } from '../layers/registry.ts';
import type { LayerConfig, LinearRows } from '../layers/types.ts';
import { createRng, deriveSeed } from '../random.ts';

/** Calibration images: the samples of `set` at `order` (seeded), gathered a batch at a time, never copied whole. */
export interface CalibrationSource {
  set: LabelledSet;
  order: number[];
}

/** Which rows a consumer layer's fit uses: selected output positions of selected calibration images. */
export interface RowSampling {
  layer: string;
  /** The layer whose output the consumer reads. */
  input: string;
  /** The consumer's config and its class's view of its input as rows (im2col patches, or input vectors for Dense). */
  config: LayerConfig;
  view: LinearRows;
  /** Output positions per image (convolution: its output positions; Dense: the product of the leading input dims). */
  positions: number;
  /** Calibration image indices (into `order`) that contribute rows, ascending. */
  images: Int32Array;
  /** For images[i], its positions are picks[starts[i] .. starts[i + 1]), ascending. */
  starts: Int32Array;
  picks: Int32Array;
  rows: number;
}

/**
 * A seeded choice of at most `maxRows` (image, position) pairs for `layer` (a class with a `linearRows` view) over
 * `images` calibration images: every pair when they fit, else the rows spread evenly over the images (each image's
 * positions drawn without replacement), over a random subset of images when there are more images than rows.
 * A class whose view is not `sampled` (Dense) keeps all positions of the images it uses.
 */
export function sampleRows(layer: LayerIR, inShape: number[], images: number, maxRows: number, seed: number): RowSampling {
  const view = layerClass(layer.className)?.linearRows as LinearRows | undefined;
  if (!view) throw new Error(`layer "${layer.name}" (${layer.className}) has no linear rows to sample`);
  const positions = view.positions(layer.config, inShape);
  const rng = createRng(deriveSeed(seed, `rows:${layer.name}`));
  const limit = Math.max(1, Math.floor(maxRows));
  const imagesWanted = view.sampled ? limit : Math.max(1, Math.floor(limit / positions));
  let chosen = Array.from({ length: images }, (_, i) => i);
  if (images > imagesWanted) chosen = rng.shuffle(chosen).slice(0, imagesWanted).sort((a, b) => a - b);
  const perImage = view.sampled ? Math.min(positions, Math.floor(limit / chosen.length)) : positions;
  const extra = view.sampled && positions > perImage ? limit - perImage * chosen.length : 0;
  const counts = chosen.map((_, i) => Math.min(positions, perImage + (i < extra ? 1 : 0)));
  const starts = new Int32Array(chosen.length + 1);
  counts.forEach((c, i) => (starts[i + 1] = starts[i]! + c));
  const picks = new Int32Array(starts[chosen.length]!);
  chosen.forEach((_, i) => picks.set(pickPositions(positions, counts[i]!, rng), starts[i]!));
  return { layer: layer.name, input: layer.inputs[0]!, config: layer.config, view, positions, images: Int32Array.from(chosen), starts, picks, rows: picks.length };
}

/** `k` distinct positions of `n`, ascending (all of them when k = n). */
function pickPositions(n: number, k: number, rng: ReturnType<typeof createRng>): Int32Array {
  if (k >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const pool = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < k; i++) {
    const j = i + rng.int(n - i);
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
  }
  return pool.slice(0, k).sort();
}

/** Rows of one layer: `rows` × `features`, row-major, in the sampling's (image, position) order. */
export interface Rows {
  values: Float32Array;
  rows: number;
  features: number;
}

export interface CollectOptions {
  batchSize: number;
  engine?: ActivationEngine;
}

/**
 * The rows of every sampling, read from `ir` in one pass over the calibration images they need (one
 * activation reader with all their input layers as outputs, so a shared prefix runs once).
 */
export async function collectRows(ir: ModelIR, samplings: RowSampling[], source: CalibrationSource, opts: CollectOptions): Promise<Map<string, Rows>> {
  if (samplings.length === 0) return new Map();
  const needed = neededImages(samplings);
  const reader = await openActivationReader(ir, [...new Set(samplings.map((s) => s.input))], { engine: opts.engine });
  try {
    const order = needed.map((i) => source.order[i]!);
    async function* outputs() {
      for (const batch of batches(source.set, opts.batchSize, order)) yield { start: batch.start, size: batch.size, outs: await reader.read(batch.x, batch.size, source.set.sampleShape) };
    }
    return await gatherRows(samplings, needed, reader.sampleShapes, outputs());
  } finally {
    reader.dispose();
  }
}

/** Calibration image indices (into `order`) any of the samplings reads, ascending. */
export function neededImages(samplings: RowSampling[]): number[] {
  return [...new Set(samplings.flatMap((s) => [...s.images]))].sort((a, b) => a - b);
}

/**
 * The samplings' rows from their input layers' outputs, batch by batch: `outputs` yields, for consecutive runs of
 * `needed` (from `start`, `size` images), each input layer's output (Keras layout, sample-major).
 */
export async function gatherRows(
  samplings: RowSampling[], needed: number[], sampleShapes: Readonly<Record<string, number[]>>,
  outputs: AsyncIterable<{ start: number; size: number; outs: Record<string, Float32Array> }>,
): Promise<Map<string, Rows>> {
  const result = new Map<string, Rows>();
  const writers = samplings.map((s) => ({ s, shape: sampleShapes[s.input]!, rows: undefined as Rows | undefined, next: 0 }));
  for await (const { start, size, outs } of outputs) {
    const batchImages = needed.slice(start, start + size);
    for (const w of writers) {
      const flat = positionsInBatch(w.s, batchImages);
      if (flat.length === 0) continue;
      const patch = w.s.view.rows(w.s.config, outs[w.s.input]!, w.shape, flat);
      if (!w.rows) {
        const features = patch.length / flat.length;
        w.rows = { values: new Float32Array(w.s.rows * features), rows: w.s.rows, features };
        result.set(w.s.layer, w.rows);
      }
      w.rows.values.set(patch, w.next * w.rows.features);
      w.next += flat.length;
    }
  }
  return result;
}

/** The sampling's positions among `batchImages` (calibration indices of the batch, in order), flat over [batch, positions]. */
function positionsInBatch(s: RowSampling, batchImages: number[]): Int32Array {
  const out: number[] = [];
  batchImages.forEach((image, b) => {
    const i = binarySearch(s.images, image);
    if (i < 0) return;
    for (let k = s.starts[i]!; k < s.starts[i + 1]!; k++) out.push(b * s.positions + s.picks[k]!);
  });
  return Int32Array.from(out);
}

function binarySearch(a: Int32Array, v: number): number {
  let [lo, hi] = [0, a.length - 1];
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (a[mid] === v) return mid;
    if (a[mid]! < v) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/**
 * The most rows (≤ maxRows, halving) whose fit fits `budget` bytes: both row matrices, the tfjs temporaries
 * (targets, residuals, centred copies) and the float64 normal equations of min(rows, features)².
 */
export function rowsWithin(layer: LayerIR, maxRows: number, budget: number): number {
  const kernel = layer.weights.find((w) => w.name === 'kernel')!;
  const features = featuresOf(layer);
  const outputs = kernel.shape[kernel.shape.length - 1]!;
  const bytes = (r: number) => 4 * r * (2 * features + 4 * outputs) + 16 * Math.min(r, features) ** 2;
  let rows = Math.max(1, Math.floor(maxRows));
  while (rows > 64 && bytes(rows) > budget) rows = Math.floor(rows / 2);
  return rows;
}

/** Input features of a Dense/Conv2D row (kh·kw·C for a convolution). */
export function featuresOf(layer: LayerIR): number {
  const kernel = layer.weights.find((w) => w.name === 'kernel')!;
  return kernel.shape.slice(0, -1).reduce((a, b) => a * b, 1);
}

/** A calibration pass's batch: the model's inference footprint plus the outputs it keeps, within `budgetBytes`. */
export function calibrationBatch(f: Footprint | undefined, shapes: ReadonlyMap<string, number[]>, samplings: RowSampling[], requested: number, budgetBytes: number): number {
  const extra = samplings.reduce((n, s) => n + 4 * shapes.get(s.input)!.reduce((a, b) => a * b, 1), 0);
  return batchWithin(requested, (f ? inferenceBytesPerSample(f) : 0) + 2 * extra, budgetBytes);
}

/** Least recently used rows go first once the total passes `budget` bytes. */
export class RowCache {
  private readonly entries = new Map<string, Rows>();
  private bytes = 0;
  constructor(readonly budget: number) {}
  has(layer: string): boolean {
    return this.entries.has(layer);
  }
  get(layer: string): Rows | undefined {
    const rows = this.entries.get(layer);
    if (rows) {
      this.entries.delete(layer);
      this.entries.set(layer, rows);
    }
    return rows;
  }
  set(layer: string, rows: Rows): void {
    this.entries.set(layer, rows);
    this.bytes += rows.values.byteLength;
    for (const [name, old] of this.entries) {
      if (this.bytes <= this.budget || name === layer) break;
      this.entries.delete(name);
      this.bytes -= old.values.byteLength;
    }
  }
  clear(): void {
    this.entries.clear();
    this.bytes = 0;
  }
}
