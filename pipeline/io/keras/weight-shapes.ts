/**
 * Checks every weight read from a Keras file has the shape its layer computes with, so a weights file that does
 * not match its config is a named error here instead of a failure deep inside a runtime.
 * (Per-class shapes: to move into the layer-family registry with the rest of what slimnet knows per class.)
 */
import { SlimnetError } from '../../errors.ts';
import type { LayerIR, ModelIR } from '../../ir.ts';
import { inferShapes } from '../../graph/shapes.ts';

const pairOf = (v: unknown): [number, number] => (typeof v === 'number' ? [v, v] : Array.isArray(v) ? [v[0] as number, (v[1] ?? v[0]) as number] : [1, 1]);

function expectedShapes(layer: LayerIR, input: number[]): Record<string, number[]> | undefined {
  const c = layer.config;
  const inC = input[input.length - 1]!;
  const [kh, kw] = pairOf(c.kernel_size);
  const mult = typeof c.depth_multiplier === 'number' ? c.depth_multiplier : 1;
  switch (layer.className) {
    case 'Dense': return { kernel: [inC, c.units as number], bias: [c.units as number] };
    case 'Conv2D': return { kernel: [kh, kw, inC, c.filters as number], bias: [c.filters as number] };
    case 'Conv1D': return { kernel: [kh, inC, c.filters as number], bias: [c.filters as number] };
    case 'Conv2DTranspose': return { kernel: [kh, kw, c.filters as number, inC], bias: [c.filters as number] };
    case 'DepthwiseConv2D': return { depthwise_kernel: [kh, kw, inC, mult], bias: [inC * mult] };
    case 'SeparableConv2D': return { depthwise_kernel: [kh, kw, inC, mult], pointwise_kernel: [1, 1, inC * mult, c.filters as number], bias: [c.filters as number] };
    case 'BatchNormalization': {
      const axis = typeof c.axis === 'number' ? c.axis : -1;
      const channels = axis < 0 ? input[input.length + axis]! : input[axis - 1]!;
      return { gamma: [channels], beta: [channels], moving_mean: [channels], moving_variance: [channels] };
    }
    default: return undefined;
  }
}

export function checkWeightShapes(ir: ModelIR, where: string): void {
  let shapes: Map<string, number[]>;
  try {
    shapes = inferShapes(ir);
  } catch (e) {
    // A class shape inference does not know is refused by the stages that need shapes, with their own message.
    if (e instanceof SlimnetError && e.code === 'LAYER_UNSUPPORTED') return;
    throw e;
  }
  for (const layer of ir.layers) {
    const input = layer.inputs[0] === undefined ? undefined : shapes.get(layer.inputs[0]);
    const expected = input && expectedShapes(layer, input);
    if (!expected) continue;
    for (const w of layer.weights) {
      const want = expected[w.name];
      if (want && (want.length !== w.shape.length || want.some((d, i) => d !== w.shape[i]))) {
        throw new SlimnetError('MODEL_INVALID', `layer "${layer.name}" (${layer.className})`,
          `weight ${w.name} has shape [${w.shape}] in ${where} but the layer needs [${want}] for its input [${input}]`,
          'the weights file does not match the model config; save the model again');
      }
    }
  }
}
