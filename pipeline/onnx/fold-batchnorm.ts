/**
 * Folds an inference-time per-channel affine layer (BatchNormalization: its class declares `channelAffine`) into
 * the layer feeding it when that layer is `activation(x·kernel + bias)` per output channel (its class declares
 * `linearKernel`): BN(y) = y·s + t per channel, so scaling the kernel's output channels by s and setting
 * bias' = bias·s + t removes the BN from the graph. Only done when the exact result is the same function: the
 * producer has no activation, its output feeds only this BN, and the BN works on the channel axis — and its weights
 * are stored as float32: folding a quantised kernel would ship it unquantised (the BN stays a node).
 */
import { cloneIR, consumersOf, type LayerIR, type ModelIR } from '../ir.ts';
import { layerClass, withConfig } from '../layers/registry.ts';
import type { LayerConfig } from '../layers/types.ts';
import type { Dim } from './builder.ts';

type LinearConfig = LayerConfig & { activation: string; useBias: boolean };

function canFold(
  ir: ModelIR, bn: LayerIR, producer: LayerIR | undefined, shapes: Map<string, Dim[]>, exposed: ReadonlySet<string>,
): producer is LayerIR<LinearConfig> {
  if (!producer || bn.inputs.length !== 1 || !layerClass(producer.className)?.linearKernel) return false;
  if ((producer.config as LinearConfig).activation !== 'linear') return false;
  if (producer.weights.some((w) => w.storage)) return false;
  // Folding changes what the producer outputs (post-BN): never for a producer whose output is read.
  if (ir.outputs.includes(producer.name) || exposed.has(producer.name)) return false;
  const consumers = consumersOf(ir, producer.name);
  if (consumers.length !== 1 || consumers[0] !== bn) return false;
  const rank = shapes.get(bn.name)?.length;
  const axis = layerClass(bn.className)!.channelAffine!(bn).axis;
  return rank !== undefined && (axis === -1 || axis === rank - 1);
}

/** The producer with the BN folded in (a new layer; its kernel and bias are new arrays). */
function foldInto(producer: LayerIR<LinearConfig>, bn: LayerIR): LayerIR<LinearConfig> {
  const cls = layerClass(producer.className)!;
  const { scale, shift } = layerClass(bn.className)!.channelAffine!(bn);
  const channels = scale.length;
  const kernel = producer.weights.find((w) => w.name === cls.linearKernel);
  const view = kernel && cls.quantizationAxis?.(producer, kernel);
  if (!kernel || !view || view.shape[view.axis] !== channels) {
    throw new Error(`cannot fold ${bn.name} into ${producer.name}: kernel does not have ${channels} output channels`);
  }
  // The output channel of flat index i is its index on the view's channel axis.
  const inner = view.shape.slice(view.axis + 1).reduce((a, b) => a * b, 1);
  for (let i = 0; i < kernel.values.length; i++) kernel.values[i] *= scale[Math.floor(i / inner) % channels]!;
  const bias = producer.config.useBias ? producer.weights.find((w) => w.name === 'bias') : undefined;
  const folded = new Float32Array(channels);
  for (let c = 0; c < channels; c++) folded[c] = (bias ? bias.values[c]! : 0) * scale[c]! + shift[c]!;
  if (bias) bias.values = folded;
  else producer.weights.push({ name: 'bias', shape: [channels], values: folded });
  return withConfig(producer, { useBias: true });
}

/**
 * A copy of `ir` with foldable BNs folded into their producers, and the names of those BNs: the
 * exporter passes their input straight through (the layers stay so names and outputs are unchanged).
 * Producers named in `exposed` (extra graph outputs) keep their own BN-free output: their BN is not folded.
 */
export function foldBatchNorms(
  ir: ModelIR, shapes: Map<string, Dim[]>, exposed: ReadonlySet<string> = new Set(),
): { ir: ModelIR; folded: Set<string> } {
  const copy = cloneIR(ir);
  const folded = new Set<string>();
  const index = new Map(copy.layers.map((l, i) => [l.name, i]));
  for (const bn of [...copy.layers]) {
    if (!layerClass(bn.className)?.channelAffine) continue;
    const at = index.get(bn.inputs[0] ?? '');
    const producer = at === undefined ? undefined : copy.layers[at];
    if (!canFold(copy, bn, producer, shapes, exposed)) continue;
    copy.layers[at!] = foldInto(producer, bn);
    folded.add(bn.name);
  }
  return { ir: copy, folded };
}
