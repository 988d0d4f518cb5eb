/** Whether a model can train on onnxruntime (every layer covered by a rule, one float input, a softmax classifier). */
import { inferShapes } from '../../graph/shapes.ts';
import type { Dim } from '../../onnx/builder.ts';
import type { ModelIR } from '../../ir.ts';
import { isClass, layerClass } from '../../layers/registry.ts';
import { softmaxOutputProblem } from './loss.ts';

export type OrtTrainability =
  | { ok: true }
  /** The first layer in the way, and why (for the report: the model then trains on tfjs). */
  | { ok: false; layer: string; className: string; reason: string };

export function canTrainOnOrt(ir: ModelIR): OrtTrainability {
  const refuse = (layer: { name: string; className: string }, reason: string) =>
    ({ ok: false as const, layer: layer.name, className: layer.className, reason });
  for (const layer of ir.layers) {
    const cls = layerClass(layer.className);
    if (isClass(layer, 'InputLayer')) {
      if (layer.config.dtype !== 'float32') return refuse(layer, `${layer.config.dtype} input`);
      if (ir.inputs.length !== 1) return refuse(layer, `a model with ${ir.inputs.length} inputs (ORT training feeds one)`);
    } else if (!cls) {
      return refuse(layer, `slimnet does not support ${layer.className} layers`);
    } else if (typeof cls.ort === 'string') {
      return refuse(layer, cls.ort);
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
    const rule = layerClass(layer.className)!.ort;
    if (typeof rule === 'string') continue; // the InputLayer
    const inShapes = layer.inputs.map((n) => shapes.get(n)!);
    const problem = rule.unsupported?.(layer, inShapes);
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
