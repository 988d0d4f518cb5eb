/**
 * A replacement plan applied to a model: each chosen layer becomes its pair (factorize.ts), in place in the
 * topological order (the first layer where the original was, the second right after it). The second layer keeps
 * the original's name, so nothing downstream is rewired. The pair's new kernels are stored as the original kernel
 * was (a uint8 or float16 model stays so; per-channel int8 along each new kernel's output channels), so a quantised
 * input does not come out larger.
 */
import { cloneIR, getWeight, type LayerIR, type ModelIR, type WeightIR } from '../ir.ts';
import { quantizeWeight, storageSpec } from '../weight-storage.ts';
import { factorize, pairOf, type Factors, type Pair } from './factorize.ts';

/** Layer name → m (convolution) or r (dense). */
export type Plan = ReadonlyMap<string, number>;

/** Computes each layer's SVDs once and shares them across every plan a search tries. */
export class FactorCache {
  private readonly factors = new Map<string, Factors>();
  constructor(private readonly ir: ModelIR) {}
  of(name: string): Factors {
    let f = this.factors.get(name);
    if (!f) this.factors.set(name, (f = factorize(this.ir.layers.find((l) => l.name === name)!)));
    return f;
  }
}

/** A name for the first layer of `name`'s pair that no layer of `ir` has. */
export function firstLayerName(ir: ModelIR, name: string, kind: Factors['kind']): string {
  const base = `${name}_${kind === 'conv' ? 'depthwise' : 'lowrank'}`;
  const taken = new Set(ir.layers.map((l) => l.name));
  if (!taken.has(base)) return base;
  for (let i = 1; ; i++) if (!taken.has(`${base}_${i}`)) return `${base}_${i}`;
}

/** `ir` with every layer of `plan` replaced by its pair (a new IR; `ir` is untouched). */
export function applyPlan(ir: ModelIR, plan: Plan, cache: FactorCache): { ir: ModelIR; pairs: Map<string, Pair> } {
  const out = cloneIR(ir);
  const pairs = new Map<string, Pair>();
  const layers: LayerIR[] = [];
  for (const layer of out.layers) {
    const size = plan.get(layer.name);
    if (size === undefined) {
      layers.push(layer);
      continue;
    }
    const factors = cache.of(layer.name);
    const pair = storedLike(getWeight(layer, 'kernel')!, pairOf(factors, size, firstLayerName(out, layer.name, factors.kind)));
    pairs.set(layer.name, pair);
    layers.push(pair.first, pair.second);
  }
  for (const name of plan.keys()) if (!pairs.has(name)) throw new Error(`separable plan names "${name}", which the model does not have`);
  return { ir: { ...out, layers }, pairs };
}

/** The pair with its new kernels in `kernel`'s storage (the bias is the original's, storage included). */
function storedLike(kernel: WeightIR, pair: Pair): Pair {
  const spec = storageSpec(kernel);
  if (spec.dtype === 'float32') return pair;
  const store = (l: LayerIR): LayerIR => ({
    ...l,
    weights: l.weights.map((w) => {
      if (w.name === 'bias') return w;
      // Per-channel int8 follows each kernel's own channel axis: the depthwise kernel's input channel, else the outputs.
      if (spec.dtype === 'int8' && spec.axis !== undefined) return quantizeWeight(w, { ...spec, axis: w.name === 'depthwise_kernel' ? 2 : w.shape.length - 1 });
      return quantizeWeight(w, spec);
    }),
  });
  return { first: store(pair.first), second: store(pair.second) };
}
