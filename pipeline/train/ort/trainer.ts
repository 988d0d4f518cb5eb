/**
 * Runs a step graph on onnxruntime-node step after step. Carried tensors live in two buffer sets: a step reads
 * one set and onnxruntime writes the updated values straight into the other (pre-allocated outputs), then the
 * two swap — no per-step allocation and no copy back into JS.
 */
import * as ort from 'onnxruntime-node';
import { cloneIR, type ModelIR } from '../../ir.ts';
import { withValues } from '../../weight-storage.ts';
import { createOrtSession, type OrtSession } from '../../onnx/ort.ts';
import { createRng, type Rng } from '../../random.ts';
import { optimizerSchedule, type OptimizerConfig } from './optimizers.ts';
import type { BatchNormMode } from './rule.ts';
import { buildStepGraph, LOSS_OUTPUT, type StepGraph } from './step-graph.ts';
import type { CarriedTensor } from './weights.ts';

export interface OrtTrainerOptions {
  /** Omitted: steps compute loss and gradients without updating anything but running statistics. */
  optimizer?: OptimizerConfig;
  learningRate?: number;
  alpha?: number;
  temperature?: number;
  exposeGradients?: boolean;
  /** BatchNormalization statistics while training (default 'batch'). */
  batchNorm?: BatchNormMode;
  /** onnxruntime intra-op threads (default 1). */
  threads?: number;
  /** Seeds the dropout masks the trainer draws when a batch brings none. */
  seed?: number;
}

export interface TrainBatch {
  /** size samples, NHWC, sample-major. */
  x: Float32Array;
  /** Class per sample. */
  y: ArrayLike<number>;
  size: number;
  /** Teacher logits, size × classes (needed when alpha > 0). */
  teacherLogits?: Float32Array;
  /** Dropout masks by layer name (size × the layer's sample shape; values 0 or 1/(1 − rate)); drawn when absent. */
  masks?: Map<string, Float32Array>;
  /** This step's learning rate (default: the trainer's learningRate). */
  learningRate?: number;
}

export interface StepResult {
  loss: number;
  /** `${layer}/${weight}` → gradient in the IR's layout (only with exposeGradients). */
  gradients?: Map<string, Float32Array>;
}

export class OrtTrainer {
  private current: Float32Array[];
  private next: Float32Array[];
  private readonly carried: CarriedTensor[];
  private readonly schedule: (learningRate: number) => number[];
  private readonly learningRate: number;
  private readonly rng: Rng;
  private readonly lossValue = new Float32Array(1);
  private released = false;

  private constructor(readonly graph: StepGraph, private readonly session: OrtSession, private readonly ir: ModelIR, opts: OrtTrainerOptions) {
    this.carried = [...graph.weights, ...graph.slots];
    this.current = this.carried.map((c) => c.initial.slice());
    this.next = this.carried.map((c) => new Float32Array(c.initial.length));
    this.schedule = opts.optimizer ? optimizerSchedule(opts.optimizer) : () => [];
    this.learningRate = opts.learningRate ?? 1e-3;
    this.rng = createRng(opts.seed ?? 0);
  }

  static async create(ir: ModelIR, opts: OrtTrainerOptions = {}): Promise<OrtTrainer> {
    const graph = buildStepGraph(ir, {
      optimizer: opts.optimizer, alpha: opts.alpha ?? 0, temperature: opts.temperature ?? 1, exposeGradients: opts.exposeGradients, batchNorm: opts.batchNorm,
    });
    const session = await createOrtSession(graph.bytes, { threads: opts.threads ?? 1 });
    return new OrtTrainer(graph, session, ir, opts);
  }

  async step(batch: TrainBatch): Promise<StepResult> {
    if (this.released) throw new Error('OrtTrainer.step after release()');
    const g = this.graph;
    const n = batch.size;
    const feeds: Record<string, ort.Tensor> = {
      [g.input]: new ort.Tensor('float32', batch.x.subarray(0, n * size(g.sampleShape)), [n, ...g.sampleShape]),
    };
    if (g.labels) feeds[g.labels] = new ort.Tensor('float32', oneHot(batch.y, n, g.numClasses), [n, g.numClasses]);
    if (g.teacher) {
      if (!batch.teacherLogits) throw new Error('this step graph distils: the batch needs teacherLogits');
      feeds[g.teacher] = new ort.Tensor('float32', batch.teacherLogits.subarray(0, n * g.numClasses), [n, g.numClasses]);
    }
    for (const m of g.masks) {
      const values = batch.masks?.get(m.layer) ?? this.drawMask(n * size(m.sampleShape), m.rate);
      feeds[m.input] = new ort.Tensor('float32', values, [n, ...m.sampleShape]);
    }
    this.schedule(batch.learningRate ?? this.learningRate).forEach((v, i) => (feeds[g.scalars[i]] = new ort.Tensor('float32', Float32Array.of(v), [])));
    const fetches: Record<string, ort.Tensor | null> = { [LOSS_OUTPUT]: new ort.Tensor('float32', this.lossValue, []) };
    this.carried.forEach((c, i) => {
      feeds[c.input] = new ort.Tensor('float32', this.current[i], c.shape);
      fetches[c.output] = new ort.Tensor('float32', this.next[i], c.shape);
    });
    for (const name of g.gradients.values()) fetches[name] = null;
    const out = await this.session.run(feeds, fetches as ort.InferenceSession.FetchesType);
    [this.current, this.next] = [this.next, this.current];
    const result: StepResult = { loss: this.lossValue[0] };
    if (g.gradients.size > 0) {
      result.gradients = new Map();
      for (const [key, name] of g.gradients) {
        const w = g.weights.find((c) => `${c.layer}/${c.weight}` === key)!;
        result.gradients.set(key, w.toIR(out[name].data as Float32Array));
        out[name].dispose();
      }
    }
    return result;
  }

  /** A copy of the model IR holding the current weights and running statistics, each re-encoded in its storage. */
  toIR(): ModelIR {
    const ir = cloneIR(this.ir);
    this.graph.weights.forEach((w, i) => {
      const layer = ir.layers.find((l) => l.name === w.layer)!;
      const at = layer.weights.findIndex((x) => x.name === w.weight);
      layer.weights[at] = withValues(layer.weights[at]!, w.toIR(this.current[i]));
    });
    return ir;
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    await this.session.release();
  }

  private drawMask(count: number, rate: number): Float32Array {
    const keep = 1 - rate;
    const scale = 1 / keep;
    const mask = new Float32Array(count);
    for (let i = 0; i < count; i++) mask[i] = this.rng.next() < keep ? scale : 0;
    return mask;
  }
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function oneHot(y: ArrayLike<number>, n: number, classes: number): Float32Array {
  const out = new Float32Array(n * classes);
  for (let i = 0; i < n; i++) {
    const c = y[i] as number;
    if (!(Number.isInteger(c) && c >= 0 && c < classes)) throw new RangeError(`label ${c} of sample ${i} is outside 0..${classes - 1}`);
    out[i * classes + c] = 1;
  }
  return out;
}
