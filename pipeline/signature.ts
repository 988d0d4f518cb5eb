/**
 * What a user needs to call the compressed model: its input (name, shape, layout, dtype, and how raw data was
 * scaled into it, as configured) and what its output means (probabilities or logits, read from the final
 * activation). Every export keeps this signature: the ONNX and TFLite graphs take the same NHWC float32 tensor under
 * the input layer's name and name their outputs after the output layers.
 */
import { isSlimnetError } from './errors.ts';
import { inferShapes } from './graph/shapes.ts';
import { findLayer, type LayerIR, type ModelIR } from './ir.ts';
import { isClass, layerClass } from './layers/registry.ts';

export interface InputScaling {
  /** What the raw values were: 8-bit integers (0–255), or floats used as given. */
  raw: string;
  /** model input = raw · scale + offset */
  scale: number;
  offset: number;
  /** The formula in words, e.g. `x = raw / 255 ([0, 255] → [0, 1])`. */
  text: string;
}

export interface InputSignature {
  name: string;
  /** With the batch dimension first (null: any batch size). */
  shape: (number | null)[];
  /** e.g. `NHWC` (batch, height, width, channels) or `NC` (batch, features). */
  layout: string;
  dtype: 'float32';
  scaling: InputScaling;
}

export type OutputMeaning = 'probabilities' | 'independent probabilities' | 'logits' | 'scores';

export interface OutputSignature {
  name: string;
  shape: (number | null)[];
  dtype: 'float32';
  /** probabilities (softmax: each row sums to 1), independent probabilities (sigmoid), logits (no final activation), scores (another activation). */
  meaning: OutputMeaning;
  /** The final activation the meaning was read from (`softmax`, `linear`, …) and the layer that applies it. */
  activation: string;
  activationLayer: string;
  /** The predicted class is the index of the largest value. */
  classes: number | null;
}

export interface ModelSignature {
  inputs: InputSignature[];
  outputs: OutputSignature[];
}

const LAYOUTS: Record<number, string> = { 2: 'NC (batch, features)', 3: 'NTC (batch, steps, channels)', 4: 'NHWC (batch, height, width, channels)', 5: 'NDHWC (batch, depth, height, width, channels)' };

/** Layer families that pass their input's meaning through unchanged: identities at inference, reshapes. */
const MEANING_KEEPING_FAMILIES = new Set(['dropout', 'reshaping']);

/** `describe`: the data description loadData produced (its raw kind, scale and offset). */
export function modelSignature(ir: ModelIR, describe: Record<string, unknown>): ModelSignature {
  let shapes: Map<string, number[]> | undefined;
  try {
    shapes = inferShapes(ir);
  } catch (e) {
    // A layer shape inference does not know: the output shape stays open, the rest of the signature holds.
    if (!isSlimnetError(e)) throw e;
  }
  const scaling = scalingOf(describe);
  const inputs = ir.inputs.map((name): InputSignature => {
    const layer = findLayer(ir, name);
    const shape = isClass(layer, 'InputLayer') ? layer.config.batchInputShape : [null];
    return { name, shape: [null, ...shape.slice(1)], layout: LAYOUTS[shape.length] ?? `rank ${shape.length}`, dtype: 'float32', scaling };
  });
  const outputs = ir.outputs.map((name): OutputSignature => {
    const perSample = shapes?.get(name);
    const { meaning, activation, layer } = finalActivation(ir, findLayer(ir, name));
    return {
      name,
      shape: perSample ? [null, ...perSample] : [null],
      dtype: 'float32',
      meaning,
      activation,
      activationLayer: layer,
      classes: perSample ? perSample.at(-1) ?? null : null,
    };
  });
  return { inputs, outputs };
}

function scalingOf(describe: Record<string, unknown>): InputScaling {
  const scale = typeof describe.scale === 'number' ? describe.scale : 1;
  const offset = typeof describe.offset === 'number' ? describe.offset : 0;
  const raw = describe.raw === 'uint8' ? 'uint8 (0–255)' : `float (as ${describe.source === 'arrays' ? 'data.load() returns them' : 'stored'})`;
  const factor = Math.abs(scale * 255 - 1) < 1e-9 ? '/ 255' : `· ${scale}`;
  const formula = scale === 1 && offset === 0 ? 'x = raw value, unchanged' : `x = raw ${factor}${offset ? ` ${offset < 0 ? '−' : '+'} ${Math.abs(offset)}` : ''}`;
  const range = describe.raw === 'uint8' ? ` ([0, 255] → [${offset}, ${+(255 * scale + offset).toFixed(6)}])` : '';
  return { raw, scale, offset, text: `${formula}${range}` };
}

/** The activation the model's values last went through, as the layer registry declares it for each class. */
function finalActivation(ir: ModelIR, layer: LayerIR): { meaning: OutputMeaning; activation: string; layer: string } {
  let current = layer;
  // Walk back through layers that do not change what the values mean.
  while (MEANING_KEEPING_FAMILIES.has(layerClass(current.className)?.family ?? '') && current.inputs.length === 1) {
    current = findLayer(ir, current.inputs[0]!);
  }
  const activation = activationOf(current);
  const meaning: OutputMeaning =
    activation === 'softmax' ? 'probabilities' : activation === 'sigmoid' ? 'independent probabilities' : activation === 'linear' ? 'logits' : 'scores';
  return { meaning, activation, layer: current.name };
}

function activationOf(layer: LayerIR): string {
  const cls = layerClass(layer.className);
  const declared = cls?.finalActivation?.(layer.config);
  if (declared) return declared.name;
  // An activation layer without a declared activation (ReLU, ELU, …) is one by its class; a layer without an
  // activation (merges, pooling, BatchNormalization) applies none.
  return cls?.family === 'activations' ? layer.className.toLowerCase() : 'linear';
}

export { describeSignature } from './signature-text.ts';
