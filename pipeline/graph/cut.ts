/**
 * Where a candidate model first differs from the model it was derived from, and the two halves that split there.
 *
 * A search candidate (a pruned, reconstructed copy of the input model) computes exactly what the input model computes
 * up to its first changed layer. A layer of the candidate is *unchanged* when the reference has a layer of the same
 * name, class, Keras config and weight values reading the same unchanged inputs; every other layer, and everything
 * downstream of one, is the candidate's *suffix*. The **cut** is the set of unchanged tensors the suffix reads: the
 * output of the layer before the first changed one, plus every tensor that bypasses it into the suffix — a residual
 * skip into an Add, a concat branch, the model input itself when an early layer changed. Worked example (a residual
 * block whose second conv was pruned):
 *
 *     in → conv1 → relu1 ─┬─ conv2* → bn2* → add* → head*       (* = changed or downstream of a change)
 *                         └────────────────────┘
 *     cut = [relu1]  (read by conv2 and, through the skip, by add)
 *
 * `prefixModel` is the reference up to the cut (its outputs are the cut tensors); `suffixModel` is the candidate's
 * suffix with one InputLayer per cut tensor, named after it, so the suffix's own layers are wired unchanged. Neither
 * copies a weight: the prefix shares the reference's layers, the suffix the candidate's.
 */
import type { LayerIR, ModelIR, WeightIR } from '../ir.ts';
import { isClass, layerFromKeras } from '../layers/registry.ts';
import { maskSources } from './masks.ts';
import type { Shape } from './shapes.ts';

export interface ModelCut {
  /** Reference tensors (layer names) the suffix reads, in the reference's layer order. */
  tensors: string[];
  /** Candidate layers of the suffix (changed, or reading one that is), in the candidate's order. */
  suffix: string[];
}

/**
 * The cut between the part of `candidate` that computes what `reference` computes and the part that does not, for the
 * candidate's output `output` (default its first). Undefined when that output is itself unchanged (the candidate
 * computes the reference's output: there is no suffix to run).
 */
export function findCut(reference: ModelIR, candidate: ModelIR, output = candidate.outputs[0]!): ModelCut | undefined {
  // A cut tensor carrying a Keras mask would reach the suffix without it (its InputLayer has no mask): the mask's
  // whole chain, from its Embedding on, then runs in the suffix, which reads the Embedding's ids instead.
  const masked = maskSources(candidate);
  const forced = new Set<string>();
  for (;;) {
    const cut = cutWith(reference, candidate, output, forced);
    const sources = new Set(cut?.tensors.map((t) => masked.get(t)).filter((s) => s !== undefined));
    if (!cut || sources.size === 0) return cut;
    for (const [name, source] of masked) if (sources.has(source)) forced.add(name);
  }
}

function cutWith(reference: ModelIR, candidate: ModelIR, output: string, forced: ReadonlySet<string>): ModelCut | undefined {
  const before = new Map(reference.layers.map((l) => [l.name, l]));
  const changed = new Set<string>();
  for (const layer of candidate.layers) {
    const original = before.get(layer.name);
    if (!original || forced.has(layer.name) || layer.inputs.some((i) => changed.has(i)) || !sameLayer(original, layer)) changed.add(layer.name);
  }
  if (!changed.has(output)) return undefined;
  // Only the changed layers the output depends on: a changed side output of a multi-output model is not run.
  const byName = new Map(candidate.layers.map((l) => [l.name, l]));
  const needed = new Set<string>();
  const cutSet = new Set<string>();
  const stack = [output];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (needed.has(name)) continue;
    needed.add(name);
    for (const input of byName.get(name)!.inputs) {
      if (changed.has(input)) stack.push(input);
      else cutSet.add(input);
    }
  }
  return {
    tensors: reference.layers.filter((l) => cutSet.has(l.name)).map((l) => l.name),
    suffix: candidate.layers.filter((l) => needed.has(l.name)).map((l) => l.name),
  };
}

/** Same class, config, inputs and weights (values compared element by element; storage by its kind). */
function sameLayer(a: LayerIR, b: LayerIR): boolean {
  if (a === b) return true;
  if (a.className !== b.className || a.inputs.length !== b.inputs.length || a.weights.length !== b.weights.length) return false;
  if (a.inputs.some((n, i) => n !== b.inputs[i])) return false;
  if (a.keras !== b.keras && JSON.stringify(a.keras) !== JSON.stringify(b.keras)) return false;
  return a.weights.every((w, i) => sameWeight(w, b.weights[i]!));
}

function sameWeight(a: WeightIR, b: WeightIR): boolean {
  if (a.name !== b.name || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  // How a weight ships decides how the ONNX export decodes it: a different storage kind is a different layer.
  const kind = (w: WeightIR) => (w.storage ? `${w.storage.dtype}:${'onnx' in w.storage ? w.storage.onnx ?? '' : ''}` : 'float32');
  if (kind(a) !== kind(b)) return false;
  if (a.values === b.values) return true;
  if (a.values.length !== b.values.length) return false;
  for (let i = 0; i < a.values.length; i++) if (!Object.is(a.values[i], b.values[i])) return false;
  return true;
}

/**
 * The reference up to the cut: the layers the `tensors` depend on, with the non-input ones as the model's outputs
 * (model inputs in the cut are fed straight to the suffix). Undefined when every cut tensor is a model input.
 */
export function prefixModel(reference: ModelIR, tensors: readonly string[]): ModelIR | undefined {
  const byName = new Map(reference.layers.map((l) => [l.name, l]));
  const outputs = tensors.filter((t) => !isClass(byName.get(t)!, 'InputLayer'));
  if (outputs.length === 0) return undefined;
  const needed = ancestors(byName, outputs);
  return {
    name: `${reference.name}_prefix`,
    layers: reference.layers.filter((l) => needed.has(l.name)),
    inputs: reference.inputs.filter((n) => needed.has(n)),
    outputs,
  };
}

/**
 * The candidate's suffix as a model of its own: one InputLayer per cut tensor (named after it, shaped as the
 * reference has it) and the suffix layers; its output is the one the cut was found for.
 */
export function suffixModel(candidate: ModelIR, cut: ModelCut, referenceShapes: ReadonlyMap<string, Shape>, output = candidate.outputs[0]!): ModelIR {
  const inputs = cut.tensors.map((name) => {
    const shape = referenceShapes.get(name);
    if (!shape) throw new Error(`no shape for cut tensor "${name}"`);
    return layerFromKeras({ name, className: 'InputLayer', keras: { name, batch_input_shape: [null, ...shape], dtype: 'float32', sparse: false } });
  });
  const suffix = new Set(cut.suffix);
  return {
    name: `${candidate.name}_suffix`,
    layers: [...inputs, ...candidate.layers.filter((l) => suffix.has(l.name))],
    inputs: [...cut.tensors],
    outputs: [output],
  };
}

function ancestors(byName: Map<string, LayerIR>, from: readonly string[]): Set<string> {
  const seen = new Set<string>();
  const stack = [...from];
  while (stack.length > 0) {
    const name = stack.pop()!;
    if (seen.has(name)) continue;
    seen.add(name);
    stack.push(...byName.get(name)!.inputs);
  }
  return seen;
}
