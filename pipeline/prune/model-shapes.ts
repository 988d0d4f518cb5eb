/**
 * Per-layer output shapes for the channel analysis: inferShapes when it knows every layer, else what tfjs itself
 * computes when it builds the model — so a layer inferShapes lacks still gets analysed (and blocks only its groups).
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
