/**
 * Per-layer output shapes for the channel analysis: inferShapes when slimnet knows every layer class, else what tfjs
 * itself computes when it builds the model — so a model with a layer of a class the registry lacks (but tfjs runs)
 * is still analysed, and that layer blocks only the channels it touches, as the analysis does for any layer it
 * cannot follow. (The pipeline's baseline needs MACs, which raise the unsupported-class error first; this serves
 * the stage when called directly, e.g. from the API.)
 */
import { isSlimnetError } from '../errors.ts';
import { inferShapes } from '../graph/shapes.ts';
import { buildTfjsModel } from '../io/tfjs-model.ts';
import type { ModelIR } from '../ir.ts';

export async function layerShapes(ir: ModelIR): Promise<Map<string, number[]>> {
  try {
    return inferShapes(ir);
  } catch (e) {
    if (!isSlimnetError(e) || e.code !== 'LAYER_UNSUPPORTED') throw e;
  }
  const model = await buildTfjsModel(ir);
  try {
    const shapes = new Map<string, number[]>();
    for (const layer of model.layers) {
      const s = layer.outputShape;
      // Layers with several outputs have no single channel axis; the analysis treats them as unknown.
      if (Array.isArray(s[0]) || s.slice(1).some((d) => d === null)) continue;
      shapes.set(layer.name, (s as number[]).slice(1));
    }
    return shapes;
  } finally {
    model.dispose();
  }
}
