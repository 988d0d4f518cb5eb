/**
 * Multiply-accumulates per sample (batch of one), from the IR and inferred shapes.
 *
 * Convention (the usual one in model-compression papers and tools such as ptflops/keras-flops):
 * only weight layers count — one MAC per weight use, bias additions excluded:
 *   Conv2D           outH·outW·outC · kh·kw · inC/groups
 *   Conv1D           outL·outC · k · inC
 *   Conv2DTranspose  inH·inW·inC · kh·kw · outC
 *   DepthwiseConv2D  outH·outW · inC·multiplier · kh·kw
 *   SeparableConv2D  the depthwise part + outH·outW · inC·multiplier · outC (pointwise)
 *   Dense            (product of leading dims) · in · units
 * BatchNormalization, activations, pooling, merges, padding, reshapes: 0 (they are cheap element-wise work
 * and inference engines usually fold or fuse them).
 */
import type { LayerIR, ModelIR } from '../ir.ts';
import { inferShapes } from './shapes.ts';

function pairOf(v: unknown): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v)) return [v[0] as number, (v[1] ?? v[0]) as number];
  return [1, 1];
}

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

function layerMacs(layer: LayerIR, input: number[] | undefined, output: number[]): number {
  if (!input) return 0;
  const c = layer.config;
  const inC = input[input.length - 1];
  switch (layer.className) {
    case 'Conv2D': {
      const [kh, kw] = pairOf(c.kernel_size);
      const groups = typeof c.groups === 'number' ? c.groups : 1;
      return prod(output) * kh * kw * (inC / groups);
    }
    case 'Conv1D':
      return prod(output) * pairOf(c.kernel_size)[0] * inC;
    case 'Conv2DTranspose': {
      const [kh, kw] = pairOf(c.kernel_size);
      return prod(input) * kh * kw * output[output.length - 1];
    }
    case 'DepthwiseConv2D': {
      const [kh, kw] = pairOf(c.kernel_size);
      return prod(output) * kh * kw; // output channels = inC · multiplier
    }
    case 'SeparableConv2D': {
      const [kh, kw] = pairOf(c.kernel_size);
      // The kernel's shape [kh, kw, inC, multiplier] is the truth: tfjs's SeparableConv2D.getConfig drops depth_multiplier.
      const kernelShape = layer.weights.find((w) => w.name === 'depthwise_kernel')?.shape;
      const mult = kernelShape?.[3] ?? (typeof c.depth_multiplier === 'number' ? c.depth_multiplier : 1);
      const spatial = output[0] * output[1];
      return spatial * inC * mult * kh * kw + spatial * inC * mult * output[2];
    }
    case 'Dense':
      return prod(output.slice(0, -1)) * inC * output[output.length - 1];
    default:
      return 0;
  }
}

export function countMacs(ir: ModelIR): { total: number; perLayer: Record<string, number> } {
  const shapes = inferShapes(ir);
  const perLayer: Record<string, number> = {};
  let total = 0;
  for (const layer of ir.layers) {
    const macs = layerMacs(layer, layer.inputs[0] === undefined ? undefined : shapes.get(layer.inputs[0]), shapes.get(layer.name)!);
    perLayer[layer.name] = macs;
    total += macs;
  }
  return { total, perLayer };
}
