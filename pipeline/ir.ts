/**
 * The model IR: plain data, no tfjs objects. It is the Keras-format topology (as in a TF.js model.json)
 * flattened to a functional graph, plus float32 weights per layer. Stages transform IR -> IR; a tfjs
 * LayersModel is only built from it to evaluate or fine-tune (pipeline/io/tfjs-model.ts).
 *
 * A layer's config lives once: `keras` is the Keras JSON exactly as model.json stores it (what is written back),
 * and `config` is its typed, normalised reading (pipeline/layers/). Both are frozen, and the only ways to make a
 * layer are pipeline/layers/registry.ts's `layerFromKeras`, `withConfig` and `createLayer`, which derive `config`
 * from `keras` — so an edited layer cannot carry a stale typed view.
 */
import type { KerasConfig, LayerConfig } from './layers/types.ts';

export interface WeightIR {
  /** The weight's own name without the layer prefix: `kernel`, `bias`, `gamma`, `moving_mean`, ... */
  name: string;
  shape: number[];
  /** Always float32 in the IR; quantised formats are decoded on load and encoded on export. */
  values: Float32Array;
}

export interface LayerIR<C extends LayerConfig = LayerConfig> {
  readonly name: string;
  /** Keras class name: `Conv2D`, `Dense`, `InputLayer`, ... */
  readonly className: string;
  /** The typed, normalised config (defaults applied, tuples as pairs); for a class slimnet does not know, only the base fields. */
  readonly config: C;
  /** The layer's Keras-format config exactly as model.json stores it (snake_case keys), `name` included. */
  readonly keras: KerasConfig;
  /** Names of the layers whose outputs this layer consumes, in call order. Empty for InputLayer. */
  inputs: string[];
  /** In the order tfjs saves them (layer.weights order), which is the order model.json lists them. */
  weights: WeightIR[];
}

export interface ModelIR {
  name: string;
  /** Topologically ordered: every layer comes after the layers it consumes. */
  layers: LayerIR[];
  /** Names of the InputLayer layers, in model input order. */
  inputs: string[];
  /** Names of the layers whose outputs are the model outputs, in order. */
  outputs: string[];
  /** Carried through from model.json so the written file looks like what tfjs writes. */
  kerasVersion?: string;
  backend?: string;
}

export function findLayer(ir: ModelIR, name: string): LayerIR {
  const layer = ir.layers.find((l) => l.name === name);
  if (!layer) throw new Error(`IR has no layer named "${name}"`);
  return layer;
}

export function getWeight(layer: LayerIR, name: string): WeightIR | undefined {
  return layer.weights.find((w) => w.name === name);
}

/** Layers that consume `name`'s output. */
export function consumersOf(ir: ModelIR, name: string): LayerIR[] {
  return ir.layers.filter((l) => l.inputs.includes(name));
}

export function countParams(ir: ModelIR): number {
  let n = 0;
  for (const layer of ir.layers) for (const w of layer.weights) n += w.values.length;
  return n;
}

/** A deep copy: stages must never mutate the IR they were given (the runner may hand it on if they fail). */
export function cloneIR(ir: ModelIR): ModelIR {
  return {
    ...ir,
    inputs: [...ir.inputs],
    outputs: [...ir.outputs],
    layers: ir.layers.map((l) => ({
      ...l,
      // config and keras are frozen: sharing them is safe.
      inputs: [...l.inputs],
      weights: l.weights.map((w) => ({ name: w.name, shape: [...w.shape], values: w.values.slice() })),
    })),
  };
}
