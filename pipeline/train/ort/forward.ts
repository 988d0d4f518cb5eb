/** The training-mode forward pass over the IR graph: each layer's rule, then its activation, in topological order. */
import type { Dim, GraphBuilder, TensorRef } from '../../onnx/builder.ts';
import type { LayerIR, ModelIR } from '../../ir.ts';
import { activationForward } from '../../layers/activations/functions.ts';
import { classOf } from '../../layers/registry.ts';
import type { BatchNormMode, Forward, LayerRule } from './rule.ts';
import type { WeightRegistry } from './weights.ts';

export interface LayerRecord {
  layer: LayerIR;
  rule: LayerRule<any>;
  /** The layer's inputs as its rule received them. */
  inputs: TensorRef[];
  forward: Forward<any>;
  /** The layer's output (after the activation). */
  out: TensorRef;
}

export interface ForwardPass {
  /** Per non-input layer, in topological order. */
  records: Map<string, LayerRecord>;
  /** Per layer (inputs included): its output tensor. */
  outputs: Map<string, TensorRef>;
}

/** `shapes`: Keras shapes with the batch (null) first, per layer. Model inputs must already be graph inputs. */
export function buildForward(b: GraphBuilder, ir: ModelIR, shapes: Map<string, Dim[]>, registry: WeightRegistry, batchNorm: BatchNormMode = 'batch'): ForwardPass {
  const outputs = new Map<string, TensorRef>();
  const records = new Map<string, LayerRecord>();
  for (const name of ir.inputs) outputs.set(name, { name, layout: 'keras', shape: shapes.get(name)! });
  for (const layer of ir.layers) {
    const cls = classOf(layer);
    if (cls.arity === 'none') continue;
    const rule = cls.ort;
    if (typeof rule === 'string') throw new Error(`${rule} (canTrainOnOrt should have refused layer "${layer.name}")`);
    const inputs = layer.inputs.map((n) => {
      const ref = outputs.get(n);
      if (!ref) throw new Error(`layer "${layer.name}" consumes "${n}", which is not computed before it`);
      return ref;
    });
    const outShape = shapes.get(layer.name)!;
    const forward = rule.forward({ b, layer, inputs, outShape, weights: registry.accessFor(layer), batchNorm });
    const out = activationForward(b, forward.activation, forward.pre, layer.name);
    records.set(layer.name, { layer, rule, inputs, forward, out: { ...out, shape: outShape } });
    outputs.set(layer.name, { ...out, shape: outShape });
  }
  return { records, outputs };
}
