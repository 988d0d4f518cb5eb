/**
 * The IR a model is trained (or differentiated) as:
 * - logits out: distillation softens logits with a temperature and softmax cross-entropy on logits is stable, so a
 *   trailing softmax (fused into the output layer, or a Softmax/Activation layer) is dropped;
 * - every BatchNormalization with `center: false` or `scale: false` gets an explicit β = 0 / γ = 1, listed in
 *   `frozen` so it is never trained: tfjs records the missing offset/scale as an undefined op input and its
 *   gradient tape then throws ("Cannot read properties of undefined (reading 'id')").
 * Weights are shared by layer name, so trained weights go back into the original IR with `copyWeightsByName`.
 */
import { cloneIR, type LayerIR, type ModelIR } from '../ir.ts';
import type { ActivationName } from '../layers/activations/names.ts';
import { isClass, layerClass, withConfig } from '../layers/registry.ts';
import type { LayerConfig } from '../layers/types.ts';
import { withValues } from '../weight-storage.ts';

export interface TrainingIR {
  ir: ModelIR;
  /** false when the model's output already was logits (no softmax found on it). */
  hadSoftmax: boolean;
  /** `layer/weight` names added only to work around tfjs: keep them out of the trained variables. */
  frozen: Set<string>;
}

export function trainingIR(source: ModelIR): TrainingIR {
  const ir = cloneIR(source);
  const frozen = completeBatchNorms(ir);
  const name = ir.outputs[0];
  const at = ir.layers.findIndex((l) => l.name === name);
  const layer = ir.layers[at];
  if (!layer) throw new Error(`IR has no output layer "${name}"`);
  const last = layerClass(layer.className)?.finalActivation?.(layer.config);
  if (last?.name === 'softmax' && !last.fused && layer.inputs.length === 1) {
    ir.outputs[0] = layer.inputs[0]!;
    ir.layers = ir.layers.filter((l) => l !== layer || ir.outputs.includes(l.name) || ir.layers.some((c) => c.inputs.includes(l.name)));
    return { ir, hadSoftmax: true, frozen };
  }
  if (last?.name === 'softmax' && last.fused) {
    ir.layers[at] = withConfig(layer as LayerIR<LayerConfig & { activation: ActivationName }>, { activation: 'linear' });
    return { ir, hadSoftmax: true, frozen };
  }
  return { ir, hadSoftmax: false, frozen };
}

function completeBatchNorms(ir: ModelIR): Set<string> {
  const frozen = new Set<string>();
  ir.layers = ir.layers.map((layer) => {
    if (!isClass(layer, 'BatchNormalization')) return layer;
    const mean = layer.weights.find((w) => w.name === 'moving_mean');
    if (!mean) return layer;
    const constant = (name: string, value: number) => ({ name, shape: [...mean.shape], values: new Float32Array(mean.values.length).fill(value) });
    if (!layer.config.scale) {
      layer.weights.unshift(constant('gamma', 1));
      frozen.add(`${layer.name}/gamma`);
    }
    if (!layer.config.center) {
      layer.weights.splice(layer.weights.findIndex((w) => w.name === 'moving_mean'), 0, constant('beta', 0));
      frozen.add(`${layer.name}/beta`);
    }
    if (layer.config.scale && layer.config.center) return layer;
    return withConfig(layer, { ...(!layer.config.scale && { scale: true }), ...(!layer.config.center && { center: true }) });
  });
  return frozen;
}

/**
 * `target` with every layer's weights replaced by those of the same-named layer in `source` (when present), each
 * re-encoded in the target weight's storage: fine-tuning a uint8 model gives a uint8 model.
 */
export function copyWeightsByName(source: ModelIR, target: ModelIR): ModelIR {
  const out = cloneIR(target);
  const byName = new Map(source.layers.map((l) => [l.name, l]));
  for (const layer of out.layers) {
    const from = byName.get(layer.name);
    if (!from) continue;
    layer.weights = layer.weights.map((w) => {
      const src = from.weights.find((x) => x.name === w.name);
      if (!src) return w;
      if (src.shape.join() !== w.shape.join()) throw new Error(`weight ${layer.name}/${w.name}: shape [${src.shape}] does not fit [${w.shape}]`);
      return withValues(w, src.values);
    });
  }
  return out;
}
