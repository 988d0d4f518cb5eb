/**
 * Where Keras masks flow: an Embedding with mask_zero marks the time steps whose id is 0, and tfjs-layers carries that
 * mask through the layers after it — recurrent layers skip the masked steps (their state and output stay those of
 * the step before), layers that are the identity at inference pass it on, a recurrent layer returning its last step
 * ends it. slimnet follows exactly that much; every export honours it from the mask's source, the Embedding's ids
 * (onnx/export.ts, formats/tflite/export.ts). Anything else reading a masked tensor is refused in one line: tfjs
 * would refuse it (Flatten, Conv1D: "does not support masking") or Keras computes it otherwise (GlobalAveragePooling1D
 * averages the unmasked steps only), and so is a masked sequence as a model output (Keras's Bidirectional writes
 * zeros at masked steps, tfjs the previous step's output).
 */
import { SlimnetError } from '../errors.ts';
import type { LayerIR, ModelIR } from '../ir.ts';
import { layerClass } from '../layers/registry.ts';
import { layerWhere } from '../layers/shared.ts';

/** Per layer whose output carries a mask: the Embedding layer that made it. Empty for a model without masks. */
export type MaskSources = ReadonlyMap<string, string>;

function refuse(layer: LayerIR, source: string, what: string): SlimnetError {
  return new SlimnetError('LAYER_UNSUPPORTED', layerWhere(layer), `reads the mask of Embedding "${source}" (mask_zero=True), ${what}`,
    'feed the Embedding to recurrent layers (SimpleRNN, LSTM, GRU, Bidirectional) only, or save the model with mask_zero=False');
}

/** The mask-carrying layers of `ir`; a layer that cannot honour a mask on its input is refused (see the header). */
export function maskSources(ir: ModelIR): MaskSources {
  const sources = new Map<string, string>();
  /** Sequences whose values at masked steps are the recurrent layer's choice. */
  const filled = new Set<string>();
  for (const layer of ir.layers) {
    // A class slimnet does not know cannot make a mask, nor follow one.
    const cls = layerClass(layer.className);
    const masked = layer.inputs.filter((n) => sources.has(n));
    if (masked.length === 0) {
      if (cls?.makesMask?.(layer.config)) sources.set(layer.name, layer.name);
      continue;
    }
    const source = sources.get(masked[0]!)!;
    const m = cls?.masking;
    if (!m) throw refuse(layer, source, `which slimnet does not follow into ${layer.className} layers`);
    if (layer.inputs.length !== 1) throw refuse(layer, source, 'on one of several inputs');
    if (m.kind === 'pass' || m.keepsMask(layer.config)) sources.set(layer.name, source);
    if (m.kind === 'consume' || filled.has(masked[0]!)) filled.add(layer.name);
  }
  for (const name of ir.outputs) {
    const source = sources.get(name);
    if (source && filled.has(name)) {
      const layer = ir.layers.find((l) => l.name === name)!;
      throw refuse(layer, source, 'as a model output (Keras and tfjs fill the masked steps differently)');
    }
  }
  return sources;
}

/** The mask source of `layer`'s (only) input, when the layer skips masked steps. */
export function consumedMask(sources: MaskSources, layer: LayerIR): string | undefined {
  return layerClass(layer.className)?.masking?.kind === 'consume' && layer.inputs.length === 1 ? sources.get(layer.inputs[0]!) : undefined;
}
