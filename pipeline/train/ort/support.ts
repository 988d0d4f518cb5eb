/** Whether a model can train on onnxruntime (every layer covered by a rule, one float input, a softmax classifier). */
import { inferShapes } from '../../graph/shapes.ts';
import type { Dim } from '../../onnx/builder.ts';
import type { ModelIR } from '../../ir.ts';
import { ruleFor } from './grad-rules/index.ts';
import { softmaxOutputProblem } from './loss.ts';

export type OrtTrainability =
  | { ok: true }
  /** The first layer in the way, and why (for the report: the model then trains on tfjs). */
  | { ok: false; layer: string; className: string; reason: string };

export function canTrainOnOrt(ir: ModelIR): OrtTrainability {
  const refuse = (layer: { name: string; className: string }, reason: string) =>
    ({ ok: false as const, layer: layer.name, className: layer.className, reason });
  for (const layer of ir.layers) {
    if (layer.className === 'InputLayer') {
      const dtype = layer.config.dtype ?? 'float32';
      if (dtype !== 'float32') return refuse(layer, `${String(dtype)} input`);
      if (ir.inputs.length !== 1) return refuse(layer, `a model with ${ir.inputs.length} inputs (ORT training feeds one)`);
    } else if (!ruleFor(layer.className)) {
      return refuse(layer, `no ORT training rule for ${layer.className}`);
    }
  }
  let shapes: Map<string, Dim[]>;
  try {
    shapes = new Map([...inferShapes(ir)].map(([name, s]) => [name, [null, ...s]]));
  } catch (e) {
    const first = ir.layers.find((l) => l.className !== 'InputLayer') ?? ir.layers[0];
    return refuse(first, `shape inference failed: ${(e as Error).message}`);
  }
  for (const layer of ir.layers) {
    if (layer.className === 'InputLayer') continue;
    const inShapes = layer.inputs.map((n) => shapes.get(n)!);
    const problem = ruleFor(layer.className)!.unsupported?.(layer, inShapes);
    if (problem) return refuse(layer, problem);
  }
  const out = softmaxOutputProblem(ir, shapes.get(ir.outputs[0] ?? '')?.length ?? 0);
  if (!out) {
    const layer = ir.layers.find((l) => l.name === ir.outputs[1]) ?? ir.layers[ir.layers.length - 1];
    return refuse(layer, `a model with ${ir.outputs.length} outputs (ORT training needs one classifier output)`);
  }
  if (out.problem) return refuse(out.layer, out.problem);
  return { ok: true };
}
