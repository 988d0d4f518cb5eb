/**
 * One optimisation step as one ONNX model: forward (training mode), loss, reverse pass and optimizer update.
 * Everything a step changes — trained weights, BatchNormalization running statistics, optimizer moments — is a
 * graph input and comes back as the matching `…:next` output, so the caller runs the same session step after
 * step and feeds outputs back. Opset 17 (ScatterElements with reduction 'add' needs ≥ 16).
 */
import { GraphBuilder, type Dim } from '../../onnx/builder.ts';
import { ONNX_IR_VERSION } from '../../onnx/export.ts';
import { encodeModel } from '../../onnx/proto.ts';
import { inferShapes } from '../../graph/shapes.ts';
import type { ModelIR } from '../../ir.ts';
import { TOOL } from '../../version.ts';
import { buildBackward } from './backward.ts';
import { buildForward } from './forward.ts';
import { opInto } from './ops.ts';
import { buildLoss } from './loss.ts';
import { buildOptimizer, type OptimizerConfig } from './optimizers.ts';
import type { BatchNormMode } from './rule.ts';
import { canTrainOnOrt } from './support.ts';
import { WeightRegistry, type CarriedTensor, type CarriedWeight, type DropoutMask } from './weights.ts';

export const TRAINING_OPSET = 17;
export const LOSS_OUTPUT = 'loss';

export interface StepGraphOptions {
  /** The update to apply; omitted: the step computes loss (and gradients) and leaves the weights as they are. */
  optimizer?: OptimizerConfig;
  /** Distillation weight (0: labels only; 1: teacher only) and softmax temperature. */
  alpha: number;
  temperature: number;
  /** Also output each trained weight's gradient as `grad:<layer>/<weight>` (tests compare them with tfjs). */
  exposeGradients?: boolean;
  /** BatchNormalization statistics while training (default 'batch'). */
  batchNorm?: BatchNormMode;
}

export interface StepGraph {
  bytes: Uint8Array;
  /** The model input (NHWC samples, batch first) and one sample's shape. */
  input: string;
  sampleShape: number[];
  numClasses: number;
  labels?: string;
  teacher?: string;
  masks: DropoutMask[];
  /** Trained weights and running statistics, carried step to step and written back to the IR. */
  weights: CarriedWeight[];
  /** Optimizer moments, carried step to step. */
  slots: CarriedTensor[];
  /** Scalar inputs of the optimizer (see optimizerSchedule). */
  scalars: string[];
  /** Gradient outputs, when exposed: `${layer}/${weight}` → output name. */
  gradients: Map<string, string>;
}

export function buildStepGraph(ir: ModelIR, opts: StepGraphOptions): StepGraph {
  const support = canTrainOnOrt(ir);
  if (!support.ok) throw new Error(`buildStepGraph: layer "${support.layer}" (${support.className}): ${support.reason}; check canTrainOnOrt first`);
  if (!(opts.alpha >= 0 && opts.alpha <= 1)) throw new RangeError(`alpha must be in [0, 1], got ${opts.alpha}`);
  if (!(opts.temperature > 0)) throw new RangeError(`temperature must be positive, got ${opts.temperature}`);
  const shapes = new Map<string, Dim[]>([...inferShapes(ir)].map(([name, s]) => [name, [null, ...s]]));
  const b = new GraphBuilder();
  const input = b.claim(ir.inputs[0]);
  const inShape = shapes.get(input)!;
  b.addInput(input, inShape);

  const registry = new WeightRegistry(b);
  const pass = buildForward(b, ir, shapes, registry, opts.batchNorm ?? 'batch');
  const outputLayer = ir.outputs[0];
  const record = pass.records.get(outputLayer)!;
  const logits = b.inLayout(record.forward.pre, 'keras').name;
  const numClasses = shapes.get(outputLayer)![1] as number;
  const loss = buildLoss(b, logits, { numClasses, alpha: opts.alpha, temperature: opts.temperature });
  b.claim(LOSS_OUTPUT);
  b.alias(loss.loss, LOSS_OUTPUT);
  b.addOutput(LOSS_OUTPUT, []);

  const grads = buildBackward(b, ir, pass, registry.trained, { layer: outputLayer, dPre: loss.dLogits });
  const trained = registry.trainedWeights();
  const gradOf = (w: CarriedWeight) =>
    grads.get(`${w.layer}/${w.weight}`) ?? b.floatConst(`${w.layer}/${w.weight}/no_grad`, w.shape, new Float32Array(w.initial.length));
  const gradients = new Map<string, string>();
  if (opts.exposeGradients) {
    for (const w of trained) {
      const name = b.claim(`grad:${w.layer}/${w.weight}`);
      b.alias(gradOf(w), name);
      b.addOutput(name, w.shape);
      gradients.set(`${w.layer}/${w.weight}`, name);
    }
  }
  for (const w of trained) b.addOutput(w.output, w.shape);
  let slots: CarriedTensor[] = [];
  let scalars: string[] = [];
  if (opts.optimizer) {
    const items = trained.map((w) => ({ value: w.input, grad: gradOf(w), output: w.output, shape: w.shape, stem: `${w.layer}/${w.weight}` }));
    ({ slots, scalars } = buildOptimizer(b, opts.optimizer, items));
  } else {
    for (const w of trained) opInto(b, 'Identity', [w.input], w.output);
  }

  const bytes = encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: TRAINING_OPSET }],
    producerName: TOOL.name,
    producerVersion: TOOL.version,
    graph: b.graph(`${ir.name || 'model'}_train_step`, 'One training step: carried tensors come back as <name>:next outputs.'),
  });
  return {
    bytes, input, sampleShape: inShape.slice(1) as number[], numClasses,
    labels: loss.labels, teacher: loss.teacher, masks: registry.masks,
    weights: registry.weights, slots, scalars, gradients,
  };
}
