/**
 * Intermediate layer outputs for calibration (least-squares reconstruction, activation statistics), read on the
 * fastest engine: onnxruntime-node on the in-memory ONNX export of the model cut at those layers (they become its
 * outputs, in tfjs's layout), or a tfjs probe model when the export does not cover that part. Callers feed
 * batches; nothing here holds a dataset.
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { isSlimnetError } from './errors.ts';
import { inferShapes } from './graph/shapes.ts';
import { buildTfjsModel } from './io/tfjs-model.ts';
import type { ModelIR } from './ir.ts';
import { exportOnnx } from './onnx/export.ts';
import { createOrtSession, type OrtSession } from './onnx/ort.ts';

export type ActivationEngine = 'auto' | 'ort' | 'tfjs';

export interface ActivationReader {
  /** 'onnxruntime-node' or `tfjs-<backend>`, as evaluation names its engines. */
  readonly engine: string;
  /** Each layer's per-sample output shape (Keras layout, no batch axis). */
  readonly sampleShapes: Readonly<Record<string, number[]>>;
  /** The layers' outputs for `count` samples of `x` (flat, NHWC): one flat, sample-major array per layer. */
  read(x: Float32Array, count: number, sampleShape: number[]): Promise<Record<string, Float32Array>>;
  dispose(): void;
}

export interface ActivationReaderOptions {
  /** 'auto' (default): onnxruntime when the model exports to ONNX, tfjs otherwise. */
  engine?: ActivationEngine;
}

/** Reads the outputs of `layerNames` (any layers of `ir`, input layers included) batch by batch. */
export async function openActivationReader(
  ir: ModelIR, layerNames: string[], opts: ActivationReaderOptions = {},
): Promise<ActivationReader> {
  const engine = opts.engine ?? 'auto';
  const names = [...new Set(layerNames)];
  if (ir.inputs.length !== 1) throw new Error(`activation reader feeds one input; the model has ${ir.inputs.length}`);
  const sub = upstreamOf(ir, names);
  if (engine === 'tfjs') return tfjsReader(sub, names);
  try {
    return await ortReader(sub, names);
  } catch (e) {
    if (engine === 'auto' && isSlimnetError(e) && e.code === 'LAYER_UNSUPPORTED') return tfjsReader(sub, names);
    throw e;
  }
}

/**
 * The part of `ir` that computes `names`, with them as its outputs (what tf.model({inputs, outputs}) does):
 * onnxruntime runs every node of a session whatever is fetched, so layers past the read ones would be wasted
 * work, and a layer ONNX lacks there would needlessly force tfjs. Layers are shared, not copied (read only).
 */
export function upstreamOf(ir: ModelIR, names: string[]): ModelIR {
  const byName = new Map(ir.layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const stack = [...ir.inputs, ...names];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    const layer = byName.get(name);
    if (!layer) throw new Error(`activation reader: the model has no layer "${name}"`);
    needed.add(name);
    stack.push(...layer.inputs);
  }
  return { ...ir, layers: ir.layers.filter((l) => needed.has(l.name)), outputs: names };
}

/** One thread, like evaluation: on 2 contended cores more threads measured slower. */
async function ortReader(ir: ModelIR, names: string[]): Promise<ActivationReader> {
  const bytes = exportOnnx(ir);
  const shapes = inferShapes(ir);
  const session: OrtSession = await createOrtSession(bytes, { threads: 1 });
  return {
    engine: 'onnxruntime-node',
    sampleShapes: Object.fromEntries(names.map((n) => [n, shapes.get(n)!])),
    async read(x, count, sampleShape) {
      const input = new ort.Tensor('float32', x, [count, ...sampleShape]);
      const result = await session.run({ [session.inputNames[0]!]: input }, names);
      const out: Record<string, Float32Array> = {};
      for (const n of names) {
        const t = result[n]!;
        out[n] = (t.data as Float32Array).slice();
        t.dispose();
      }
      return out;
    },
    dispose: () => void session.release(),
  };
}

async function tfjsReader(ir: ModelIR, names: string[]): Promise<ActivationReader> {
  const model = await buildTfjsModel(ir);
  // An input layer's output is the model input (a Sequential does not even list its input layer).
  const outputOf = (n: string) => model.inputs.find((t) => t.sourceLayer.name === n) ?? (model.getLayer(n).output as tf.SymbolicTensor);
  const probe = tf.model({ inputs: model.inputs, outputs: names.map(outputOf) });
  return {
    engine: `tfjs-${tf.getBackend()}`,
    sampleShapes: Object.fromEntries(names.map((n, i) => [n, (probe.outputs[i]!.shape as number[]).slice(1)])),
    async read(x, count, sampleShape) {
      const ys = tf.tidy(() => {
        const y = probe.predict(tf.tensor(x, [count, ...sampleShape], 'float32'));
        return Array.isArray(y) ? y : [y];
      });
      try {
        const values = await Promise.all(ys.map((t) => t.data() as Promise<Float32Array>));
        return Object.fromEntries(names.map((n, i) => [n, values[i]!]));
      } finally {
        tf.dispose(ys);
      }
    },
    // The probe shares the model's layers: disposing the model frees every weight.
    dispose: () => void model.dispose(),
  };
}
