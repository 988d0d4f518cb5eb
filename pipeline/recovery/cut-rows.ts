/**
 * Calibration rows of a candidate read from its cut (pipeline/graph/cut.ts). A pruned candidate computes what its
 * reference computes up to its first changed layer, so a reconstruction's calibration passes — up to one per wave of
 * refitted consumers, each over every calibration image — need not run that prefix again and again: the reference's
 * activations at the cut are computed once per reconstruction (`cutActivations`: the prefix, one pass) and each
 * pass runs only the candidate's suffix on them (`collectRowsFromCut`). On MobileNetV2 at 224×224 a candidate that
 * prunes the top blocks skips most of each pass.
 *
 * Bounded: the cut's feature maps for every calibration image the fits read are held for the reconstruction, so it
 * is used only when they fit the given bytes; otherwise (or when the cut is the model input, a layer ONNX does not
 * take, or the tfjs engine) there is no cut and rows are read from the whole candidate (collectRows). Numerics: the
 * same ONNX export of the same layers on both sides, feature maps crossing channels-first; what can differ from the
 * whole candidate is the export's rewrites at the graph boundary (as in pipeline/evaluate-shared.ts), within float
 * reassociation.
 */
import * as ort from 'onnxruntime-node';
import { batches } from '../data/splits.ts';
import { isSlimnetError } from '../errors.ts';
import { findCut, prefixModel } from '../graph/cut.ts';
import { inferShapes } from '../graph/shapes.ts';
import type { LayerIR, ModelIR } from '../ir.ts';
import { isClass, layerFromKeras } from '../layers/registry.ts';
import { exportOnnx } from '../onnx/export.ts';
import { createOrtSession } from '../onnx/ort.ts';
import { gatherRows, neededImages, type CalibrationSource, type RowSampling, type Rows } from './calibration-rows.ts';

/** The reference's outputs at a candidate's cut for the calibration images its fits read. */
export interface CutActivations {
  /** Reference tensors (layer names) the candidate's changed layers read. */
  tensors: string[];
  /** Per cut tensor, its per-sample shape in the reference (Keras layout). */
  shapes: Map<string, number[]>;
  /** Calibration image indices (into the source's order) held, ascending. */
  images: number[];
  /** Per cut tensor, `images.length` samples, channels-first as the ONNX graphs hold them, sample-major. */
  values: Map<string, Float32Array>;
  /** Per cut tensor, its per-sample dims in that layout. */
  dims: Map<string, number[]>;
  /** Layers of the candidate past the cut. */
  suffix: Set<string>;
}

export interface CutOptions {
  /** Most bytes the held activations may take; a larger cut is not used. */
  maxBytes: number;
  batchSize: number;
}

/**
 * The reference's activations at `candidate`'s cut, for the images `samplings` read, computed in one pass of the
 * reference's prefix; undefined when the cut cannot serve (see the module comment).
 */
export async function cutActivations(
  reference: ModelIR, candidate: ModelIR, samplings: RowSampling[], source: CalibrationSource, opts: CutOptions,
): Promise<CutActivations | undefined> {
  if (reference.inputs.length !== 1 || samplings.length === 0) return undefined;
  const cut = findCut(reference, candidate);
  if (!cut) return undefined;
  const byName = new Map(reference.layers.map((l) => [l.name, l]));
  // A cut at the model input saves nothing (the whole candidate runs either way).
  if (cut.tensors.some((t) => isClass(byName.get(t)!, 'InputLayer'))) return undefined;
  const candidateLayers = new Map(candidate.layers.map((l) => [l.name, l]));
  if (cut.suffix.some((n) => isClass(candidateLayers.get(n)!, 'InputLayer'))) return undefined;
  const shapes = inferShapes(reference);
  const images = neededImages(samplings);
  const perSample = new Map(cut.tensors.map((t) => [t, shapes.get(t)!.reduce((a, b) => a * b, 1)]));
  const bytes = 4 * images.length * [...perSample.values()].reduce((a, b) => a + b, 0);
  if (bytes > opts.maxBytes) return undefined;
  const prefix = prefixModel(reference, cut.tensors)!;
  let session;
  try {
    session = await createOrtSession(exportOnnx(prefix, { channelsFirst: new Set(cut.tensors) }), { threads: 1 });
  } catch (e) {
    if (isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED') return undefined;
    throw e;
  }
  try {
    const values = new Map(cut.tensors.map((t) => [t, new Float32Array(images.length * perSample.get(t)!)]));
    const dims = new Map<string, number[]>();
    const inputName = session.inputNames[0]!;
    for (const batch of batches(source.set, opts.batchSize, images.map((i) => source.order[i]!))) {
      const x = new ort.Tensor('float32', batch.x, [batch.size, ...source.set.sampleShape]);
      const out = await session.run({ [inputName]: x }, cut.tensors);
      for (const t of cut.tensors) {
        values.get(t)!.set(out[t]!.data as Float32Array, batch.start * perSample.get(t)!);
        dims.set(t, out[t]!.dims.slice(1));
        out[t]!.dispose();
      }
    }
    return { tensors: cut.tensors, shapes: new Map(cut.tensors.map((t) => [t, shapes.get(t)!])), images, values, dims, suffix: new Set(cut.suffix) };
  } finally {
    await session.release();
  }
}

/**
 * The rows of `samplings`, read from `candidate` (as it is now: its refitted layers included) by running only its
 * layers past the cut on the held activations. Undefined when a sampled input is not computed past the cut, or an
 * image is not held: the caller reads the whole candidate instead.
 */
export async function collectRowsFromCut(candidate: ModelIR, acts: CutActivations, samplings: RowSampling[], batchSize: number): Promise<Map<string, Rows> | undefined> {
  if (samplings.length === 0) return new Map();
  const needed = neededImages(samplings);
  const held = new Map(acts.images.map((image, i) => [image, i]));
  if (needed.some((i) => !held.has(i))) return undefined;
  const names = [...new Set(samplings.map((s) => s.input))];
  const part = suffixUpTo(candidate, acts, names);
  if (!part) return undefined;
  const shapes = inferShapes(part);
  const session = await createOrtSession(exportOnnx(part, { channelsFirst: new Set(part.inputs) }), { threads: 1 });
  try {
    async function* outputs() {
      for (let start = 0; start < needed.length; start += batchSize) {
        const size = Math.min(batchSize, needed.length - start);
        const feeds: Record<string, ort.Tensor> = {};
        for (const t of part!.inputs) {
          const per = acts.values.get(t)!.length / acts.images.length;
          const x = new Float32Array(size * per);
          for (let b = 0; b < size; b++) {
            const at = held.get(needed[start + b]!)!;
            x.set(acts.values.get(t)!.subarray(at * per, (at + 1) * per), b * per);
          }
          feeds[t] = new ort.Tensor('float32', x, [size, ...acts.dims.get(t)!]);
        }
        const result = await session.run(feeds, names);
        const outs: Record<string, Float32Array> = {};
        for (const n of names) {
          outs[n] = (result[n]!.data as Float32Array).slice();
          result[n]!.dispose();
        }
        yield { start, size, outs };
      }
    }
    return await gatherRows(samplings, needed, Object.fromEntries(names.map((n) => [n, shapes.get(n)!])), outputs());
  } finally {
    await session.release();
  }
}

/**
 * The candidate's layers past the cut that compute `names`, with one InputLayer per cut tensor they read (named
 * after it, so the layers are wired unchanged); undefined if they reach a layer that is neither past the cut nor on it.
 */
function suffixUpTo(candidate: ModelIR, acts: CutActivations, names: string[]): ModelIR | undefined {
  const byName = new Map(candidate.layers.map((l) => [l.name, l]));
  const cutTensors = new Set(acts.tensors);
  if (names.some((n) => cutTensors.has(n))) return undefined;
  const needed = new Set<string>();
  const read = new Set<string>();
  const stack = [...names];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name) || read.has(name)) continue;
    if (cutTensors.has(name)) {
      read.add(name);
      continue;
    }
    if (!acts.suffix.has(name) || !byName.has(name)) return undefined;
    needed.add(name);
    stack.push(...byName.get(name)!.inputs);
  }
  const inputs: LayerIR[] = acts.tensors.filter((t) => read.has(t)).map((name) =>
    layerFromKeras({ name, className: 'InputLayer', keras: { name, batch_input_shape: [null, ...acts.shapes.get(name)!], dtype: 'float32', sparse: false } }));
  return {
    name: `${candidate.name}_suffix`,
    layers: [...inputs, ...candidate.layers.filter((l) => needed.has(l.name))],
    inputs: inputs.map((l) => l.name),
    outputs: names,
  };
}
