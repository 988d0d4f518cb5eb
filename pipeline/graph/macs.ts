/**
 * Multiply-accumulates per sample (batch of one), from the IR and inferred shapes.
 *
 * Convention (the usual one in model-compression papers and tools such as ptflops/keras-flops): only weight layers
 * count — one MAC per weight use, bias additions excluded; each class's formula is in its family module
 * (pipeline/layers/). BatchNormalization, activations, pooling, merges, padding, reshapes: 0 (they are cheap
 * element-wise work and inference engines usually fold or fuse them).
 */
import type { ModelIR } from '../ir.ts';
import { classOf } from '../layers/registry.ts';
import { inferShapes } from './shapes.ts';

export function countMacs(ir: ModelIR): { total: number; perLayer: Record<string, number> } {
  const shapes = inferShapes(ir);
  const perLayer: Record<string, number> = {};
  let total = 0;
  for (const layer of ir.layers) {
    const inputs = layer.inputs.map((n) => shapes.get(n)!);
    const macs = classOf(layer).macs?.(layer, inputs, shapes.get(layer.name)!) ?? 0;
    perLayer[layer.name] = macs;
    total += macs;
  }
  return { total, perLayer };
}
