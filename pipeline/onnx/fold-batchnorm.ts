/**
 * Folds inference-mode BatchNormalization into the Conv2D / DepthwiseConv2D / SeparableConv2D / Dense
 * that feeds it: BN(y) = y*s + t per output channel, so scaling the kernel's output channels by s and
 * setting bias' = bias*s + t removes the BN from the graph. Only done when the exact result is the same
 * function: the producer has no activation, its output feeds only this BN, and BN normalizes channels.
 */
import { cloneIR, consumersOf, type LayerIR, type ModelIR } from '../ir.ts';
import type { Dim } from './builder.ts';
import { stringOpt } from './layer-converters/common.ts';
import { batchNormAffine, batchNormAxis } from './layer-converters/normalization.ts';

/** The weight whose trailing axis (flattened trailing axes for depthwise) is the output channel. */
const OUTPUT_KERNEL: Record<string, string> = {
  Conv2D: 'kernel',
  DepthwiseConv2D: 'depthwise_kernel',
  SeparableConv2D: 'pointwise_kernel',
  Dense: 'kernel',
};

function canFold(
  ir: ModelIR, bn: LayerIR, producer: LayerIR | undefined, shapes: Map<string, Dim[]>, exposed: ReadonlySet<string>,
): producer is LayerIR {
  if (!producer || bn.inputs.length !== 1 || !(producer.className in OUTPUT_KERNEL)) return false;
  if (stringOpt(producer, 'activation', 'linear') !== 'linear') return false;
  // Folding changes what the producer outputs (post-BN): never for a producer whose output is read.
  if (ir.outputs.includes(producer.name) || exposed.has(producer.name)) return false;
  const consumers = consumersOf(ir, producer.name);
  if (consumers.length !== 1 || consumers[0] !== bn) return false;
  const rank = shapes.get(bn.name)?.length;
  const axis = batchNormAxis(bn);
  return rank !== undefined && (axis === -1 || axis === rank - 1);
}

function foldInto(producer: LayerIR, bn: LayerIR): void {
  const { scale, shift } = batchNormAffine(bn);
  const channels = scale.length;
  const kernel = producer.weights.find((w) => w.name === OUTPUT_KERNEL[producer.className]);
  if (!kernel || kernel.values.length % channels !== 0) {
    throw new Error(`cannot fold ${bn.name} into ${producer.name}: kernel does not have ${channels} output channels`);
  }
  // Output channel = flat index mod channels: true for [..., out] kernels and for depthwise [kh,kw,C,m]
  // whose output channel c*m+j is the flattened pair of trailing axes.
  for (let i = 0; i < kernel.values.length; i++) kernel.values[i] *= scale[i % channels];
  const usesBias = producer.config.use_bias !== false;
  const bias = usesBias ? producer.weights.find((w) => w.name === 'bias') : undefined;
  const folded = new Float32Array(channels);
  for (let c = 0; c < channels; c++) folded[c] = (bias ? bias.values[c] : 0) * scale[c] + shift[c];
  if (bias) bias.values = folded;
  else producer.weights.push({ name: 'bias', shape: [channels], values: folded });
  producer.config.use_bias = true;
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
  const byName = new Map(copy.layers.map((l) => [l.name, l]));
  for (const bn of copy.layers) {
    if (bn.className !== 'BatchNormalization') continue;
    const producer = byName.get(bn.inputs[0] ?? '');
    if (!canFold(copy, bn, producer, shapes, exposed)) continue;
    foldInto(producer, bn);
    folded.add(bn.name);
  }
  return { ir: copy, folded };
}
