/**
 * The reverse pass over the IR graph. Layers are visited in reverse topological order; a layer's output gradient
 * is the sum of what its consumers sent back (brought to one layout), then goes through its activation and its
 * rule. Layers with nothing trainable at or before them are skipped, and so are input gradients nobody needs
 * (e.g. the first convolution's).
 */
import type { GraphBuilder, TensorRef } from '../../onnx/builder.ts';
import type { ModelIR } from '../../ir.ts';
import { activationBackward } from '../../layers/activations/functions.ts';
import type { ForwardPass } from './forward.ts';
import type { InputGradient } from './rule.ts';

/** Where the loss enters: the gradient with respect to `layer`'s pre-activation output (in that tensor's layout). */
export interface GradientSeed {
  layer: string;
  dPre: string;
}

/** Gradient tensor per trained weight, keyed `${layer}/${weight}`, in the weight's training layout. */
export type WeightGradients = Map<string, string>;

export function buildBackward(
  b: GraphBuilder, ir: ModelIR, pass: ForwardPass, trained: Map<string, Set<string>>, seed: GradientSeed,
): WeightGradients {
  const needsGrad = new Set<string>();
  for (const layer of ir.layers) {
    if ((trained.get(layer.name)?.size ?? 0) > 0 || layer.inputs.some((n) => needsGrad.has(n))) needsGrad.add(layer.name);
  }
  const uses = new Map<string, number>();
  for (const layer of ir.layers) for (const n of layer.inputs) uses.set(n, (uses.get(n) ?? 0) + 1);
  const incoming = new Map<string, InputGradient[]>();
  const grads: WeightGradients = new Map();
  for (const layer of [...ir.layers].reverse()) {
    const record = pass.records.get(layer.name);
    if (!record || !needsGrad.has(layer.name)) continue;
    let dPre: string;
    if (layer.name === seed.layer) {
      dPre = seed.dPre;
    } else {
      const parts = incoming.get(layer.name);
      if (!parts) continue; // the layer does not reach the loss
      const dOut = sumInLayout(b, parts, record.out, `${layer.name}/grad/out`);
      // A sole consumer may have applied this layer's activation gradient already (see InputGradient).
      dPre = parts.length === 1 && parts[0].throughActivation
        ? dOut
        : activationBackward(b, record.forward.activation, record.forward.pre, record.out, dOut, `${layer.name}/grad/act`);
    }
    const result = record.rule.backward({
      b, layer, inputs: record.inputs, forward: record.forward, dPre,
      needInput: layer.inputs.map((n) => needsGrad.has(n)),
      trainable: trained.get(layer.name) ?? new Set(),
      producer: layer.inputs.map((n) => (uses.get(n) === 1 && n !== seed.layer ? pass.records.get(n)?.forward.activation : undefined)),
    });
    layer.inputs.forEach((n, i) => {
      const g = result.inputs[i];
      if (!g || !needsGrad.has(n)) return;
      const list = incoming.get(n) ?? [];
      list.push(g);
      incoming.set(n, list);
    });
    for (const w of trained.get(layer.name) ?? []) {
      const g = result.weights[w];
      if (!g) throw new Error(`the ${layer.className} rule built no gradient for trained weight ${layer.name}/${w}`);
      grads.set(`${layer.name}/${w}`, g);
    }
  }
  // Trained weights of layers that do not reach the loss get no entry: their optimizer update leaves them as they are.
  return grads;
}

/** Σ parts, each first brought to `target`'s layout. */
function sumInLayout(b: GraphBuilder, parts: TensorRef[], target: TensorRef, hint: string): string {
  const names = parts.map((p) => b.inLayout({ ...p, shape: target.shape }, target.layout).name);
  return names.length === 1 ? names[0] : b.op('Sum', names, {}, hint);
}
