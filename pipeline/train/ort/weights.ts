/**
 * The tensors a training step carries from one run to the next. Trained weights and running statistics enter as
 * graph inputs (`w:<layer>/<weight>`) in their training layout and leave updated (`…:next`); frozen weights
 * (layers with trainable: false) are constants. Dropout masks are per-step inputs.
 */
import type { Dim, GraphBuilder } from '../../onnx/builder.ts';
import { requireWeight } from '../../onnx/converter.ts';
import type { LayerIR } from '../../ir.ts';
import { asStored } from './ops.ts';
import type { WeightAccess, WeightLayout } from './rule.ts';

/** A tensor carried between steps: fed as `input`, produced as `output`, starting from `initial`. */
export interface CarriedTensor {
  input: string;
  output: string;
  shape: number[];
  initial: Float32Array;
}

/** A model weight the step graph carries (trained or running statistic), and how to write it back to the IR. */
export interface CarriedWeight extends CarriedTensor {
  layer: string;
  weight: string;
  kind: 'trained' | 'running';
  toIR(values: Float32Array): Float32Array;
}

export interface DropoutMask {
  input: string;
  layer: string;
  /** Keras shape per sample (without the batch). */
  sampleShape: number[];
  rate: number;
}

export function isLayerTrainable(layer: LayerIR): boolean {
  return layer.config.trainable;
}

export class WeightRegistry {
  readonly weights: CarriedWeight[] = [];
  readonly masks: DropoutMask[] = [];
  /** Per layer: the names of its weights that are trained. */
  readonly trained = new Map<string, Set<string>>();

  constructor(private readonly b: GraphBuilder) {}

  accessFor(layer: LayerIR): WeightAccess {
    const b = this.b;
    const trained = new Set<string>();
    this.trained.set(layer.name, trained);
    return {
      weight: (name: string, layout?: WeightLayout) => {
        const stored = requireWeight(layer, name);
        const l = layout ?? asStored(stored.shape);
        if (!isLayerTrainable(layer)) return b.floatConst(`${layer.name}/${name}`, l.shape, l.toTrain(stored.values));
        const input = b.claim(`w:${layer.name}/${name}`);
        b.addInput(input, l.shape);
        trained.add(name);
        this.weights.push({
          input, output: `${input}:next`, shape: l.shape, initial: l.toTrain(stored.values),
          layer: layer.name, weight: name, kind: 'trained', toIR: l.toIR,
        });
        return input;
      },
      state: (name: string, layout: WeightLayout) => {
        const stored = requireWeight(layer, name);
        const input = b.claim(`w:${layer.name}/${name}`);
        b.addInput(input, layout.shape);
        const carried: CarriedWeight = {
          input, output: `${input}:next`, shape: layout.shape, initial: layout.toTrain(stored.values),
          layer: layer.name, weight: name, kind: 'running', toIR: layout.toIR,
        };
        this.weights.push(carried);
        b.addOutput(carried.output, layout.shape);
        return { current: input, next: carried.output };
      },
      dropoutMask: (l: LayerIR, kerasShape: Dim[], rate: number) => {
        const input = b.claim(`mask:${l.name}`);
        b.addInput(input, [null, ...kerasShape.slice(1)]);
        this.masks.push({ input, layer: l.name, sampleShape: kerasShape.slice(1) as number[], rate });
        return input;
      },
    };
  }

  trainedWeights(): CarriedWeight[] {
    return this.weights.filter((w) => w.kind === 'trained');
  }
}
