/**
 * Output shape of every layer (without the batch dimension), computed from the IR alone: the driver walks the graph
 * and asks each layer's class (pipeline/layers/registry.ts), whose arithmetic is tfjs-layers' own.
 */
import type { LayerIR, ModelIR } from '../ir.ts';
import { classOf, layerClass } from '../layers/registry.ts';
import { MAX_CONFIG_INT } from '../layers/config.ts';
import { invalid } from '../layers/shared.ts';
import type { LayerClass } from '../layers/types.ts';

export type Shape = number[];

function outputShape(cls: LayerClass<any>, layer: LayerIR, inputs: Shape[]): Shape {
  if (cls.arity === 'one' && inputs.length !== 1) throw invalid(layer, `takes one input but is wired to ${inputs.length}`);
  const shape = cls.outputShape(layer, inputs);
  // A config that does not fit its input (a window larger than it, a stride past it) leaves an empty or absurd
  // output; said here, about this layer, rather than as a weight mismatch downstream or a runtime's shape error.
  if (!shape.every((d) => Number.isInteger(d) && d >= 1 && d <= MAX_CONFIG_INT)) {
    throw invalid(layer, `its output shape would be [${shape}]${inputs.length ? ` for input ${inputs.map((s) => `[${s}]`).join(', ')}` : ''}: its config does not fit its input`,
      'check the layer\'s sizes, strides and padding against its input; re-save the model');
  }
  return shape;
}

function inputShapes(layer: LayerIR, shapes: Map<string, Shape>): Shape[] {
  return layer.inputs.map((n) => {
    const s = shapes.get(n);
    if (!s) throw new Error(`IR is not topologically ordered: "${layer.name}" comes before its input "${n}"`);
    return s;
  });
}

/** Every layer's output shape; a class slimnet does not know is the one unsupported-class error. */
export function inferShapes(ir: ModelIR): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  for (const layer of ir.layers) shapes.set(layer.name, outputShape(classOf(layer), layer, inputShapes(layer, shapes)));
  return shapes;
}

/**
 * The shapes that can be inferred: a layer of an unknown class or a model input with free dimensions, and
 * everything computed from them, is left out (other errors still throw). For checks that should cover what they
 * can (read-model's weight shapes).
 */
export function inferKnownShapes(ir: ModelIR): Map<string, Shape> {
  const shapes = new Map<string, Shape>();
  for (const layer of ir.layers) {
    const cls = layerClass(layer.className);
    const inputs = layer.inputs.map((n) => shapes.get(n));
    if (!cls || !inputs.every((s) => s !== undefined)) continue;
    if (cls.arity === 'none') {
      try {
        shapes.set(layer.name, outputShape(cls, layer, []));
      } catch {
        // a free input dimension: nothing downstream has a known shape
      }
      continue;
    }
    shapes.set(layer.name, outputShape(cls, layer, inputs as Shape[]));
  }
  return shapes;
}
