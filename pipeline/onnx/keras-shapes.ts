/**
 * Keras output shapes (batch first, null = unknown) of every layer the ONNX export supports: the pads of
 * 'same' windows and the graph's output value infos need them.
 * Stop-gap until pipeline/graph/shapes.ts (inferShapes, covering every layer slimnet handles) lands.
 */
import type { LayerIR, ModelIR } from '../ir.ts';
import type { Dim } from './builder.ts';
import { numberOpt, pairOpt, requireWeight, stringOpt } from './layer-converters/common.ts';
import { unsupportedLayer } from './layers.ts';

function windowOut(size: Dim, kernel: number, stride: number, dilation: number, padding: string): Dim {
  if (size === null) return null;
  const effective = (kernel - 1) * dilation + 1;
  return padding === 'same' ? Math.ceil(size / stride) : Math.ceil((size - effective + 1) / stride);
}

function spatial(layer: LayerIR, x: Dim[], kernel: [number, number], strides: [number, number], channels: Dim): Dim[] {
  const d = pairOpt(layer, 'dilation_rate', [1, 1]);
  const padding = stringOpt(layer, 'padding', 'valid');
  return [x[0], windowOut(x[1], kernel[0], strides[0], d[0], padding), windowOut(x[2], kernel[1], strides[1], d[1], padding), channels];
}

function pairs(raw: unknown, fallback: number): [number, number, number, number] {
  if (raw === undefined || raw === null) return [fallback, fallback, fallback, fallback];
  if (typeof raw === 'number') return [raw, raw, raw, raw];
  const [h, w] = raw as [unknown, unknown];
  if (typeof h === 'number' && typeof w === 'number') return [h, h, w, w];
  const [hh, ww] = raw as [number[], number[]];
  return [hh[0], hh[1], ww[0], ww[1]];
}

function add(a: Dim, b: number): Dim {
  return a === null ? null : a + b;
}

/** Element-wise broadcast of same-rank shapes, as Keras merges do. */
function broadcast(shapes: Dim[][]): Dim[] {
  return shapes[0].map((_, i) => {
    const known = shapes.map((s) => s[i]).filter((d): d is number => d !== null && d !== 1);
    if (known.length) return known[0];
    return shapes.every((s) => s[i] === 1) ? 1 : null;
  });
}

function product(dims: Dim[]): Dim {
  return dims.some((d) => d === null) ? null : (dims as number[]).reduce((a, b) => a * b, 1);
}

function layerShape(layer: LayerIR, ins: Dim[][]): Dim[] {
  const x = ins[0];
  switch (layer.className) {
    case 'InputLayer': {
      const shape = (layer.config.batch_input_shape ?? layer.config.batch_shape) as Dim[] | undefined;
      if (!Array.isArray(shape)) throw new Error(`InputLayer "${layer.name}" has no batch_input_shape`);
      return [null, ...shape.slice(1)];
    }
    case 'Conv2D': {
      const [kh, kw, , cout] = requireWeight(layer, 'kernel').shape;
      return spatial(layer, x, [kh, kw], pairOpt(layer, 'strides', [1, 1]), cout);
    }
    case 'DepthwiseConv2D': {
      const [kh, kw, c, m] = requireWeight(layer, 'depthwise_kernel').shape;
      return spatial(layer, x, [kh, kw], pairOpt(layer, 'strides', [1, 1]), c * m);
    }
    case 'SeparableConv2D': {
      const [kh, kw] = requireWeight(layer, 'depthwise_kernel').shape;
      const cout = requireWeight(layer, 'pointwise_kernel').shape[3];
      return spatial(layer, x, [kh, kw], pairOpt(layer, 'strides', [1, 1]), cout);
    }
    case 'MaxPooling2D':
    case 'AveragePooling2D': {
      const k = pairOpt(layer, 'pool_size', [2, 2]);
      const s = pairOpt(layer, 'strides', k);
      const padding = stringOpt(layer, 'padding', 'valid');
      return [x[0], windowOut(x[1], k[0], s[0], 1, padding), windowOut(x[2], k[1], s[1], 1, padding), x[3]];
    }
    case 'GlobalAveragePooling2D':
    case 'GlobalMaxPooling2D':
      return [x[0], x[3]];
    case 'GlobalAveragePooling1D':
    case 'GlobalMaxPooling1D':
      return [x[0], x[2]];
    case 'Dense':
      return [...x.slice(0, -1), requireWeight(layer, 'kernel').shape[1]];
    case 'Flatten':
      return [x[0], product(x.slice(1))];
    case 'Reshape': {
      const target = (layer.config.target_shape as Dim[]).map((d) => (d === null || d < 0 ? null : d));
      const unknown = target.indexOf(null);
      const total = product(x.slice(1));
      if (unknown >= 0 && total !== null) {
        target[unknown] = total / (product(target.filter((d) => d !== null)) as number);
      }
      return [x[0], ...target];
    }
    case 'ZeroPadding2D': {
      const [t, b, l, r] = pairs(layer.config.padding, 1);
      return [x[0], add(x[1], t + b), add(x[2], l + r), x[3]];
    }
    case 'Cropping2D': {
      const [t, b, l, r] = pairs(layer.config.cropping, 0);
      return [x[0], add(x[1], -t - b), add(x[2], -l - r), x[3]];
    }
    case 'UpSampling2D': {
      const [sh, sw] = pairOpt(layer, 'size', [2, 2]);
      return [x[0], x[1] === null ? null : x[1] * sh, x[2] === null ? null : x[2] * sw, x[3]];
    }
    case 'Concatenate': {
      const rank = x.length;
      const raw = numberOpt(layer, 'axis', -1);
      const axis = raw < 0 ? raw + rank : raw;
      const out = [...x];
      out[axis] = ins.reduce<Dim>((sum, s) => (sum === null || s[axis] === null ? null : sum + (s[axis] as number)), 0);
      return out;
    }
    case 'Add':
    case 'Multiply':
    case 'Average':
    case 'Maximum':
    case 'Minimum':
      return broadcast(ins);
    default:
      // Activations, BatchNormalization, Dropout-style layers keep their input's shape.
      if (!x) throw unsupportedLayer(layer);
      return x;
  }
}

export function kerasOutputShapes(ir: ModelIR): Map<string, Dim[]> {
  const shapes = new Map<string, Dim[]>();
  for (const layer of ir.layers) {
    const ins = layer.inputs.map((name) => {
      const s = shapes.get(name);
      if (!s) throw new Error(`layer "${layer.name}" consumes "${name}", which comes later or does not exist`);
      return s;
    });
    shapes.set(layer.name, layerShape(layer, ins));
  }
  return shapes;
}
