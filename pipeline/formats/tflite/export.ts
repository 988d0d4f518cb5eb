/**
 * ModelIR → the bytes of a .tflite file, in TypeScript (no Python, no TF converter).
 *
 * Contract of the written model:
 * - One float32 input, NHWC exactly as the tfjs model takes it (named after its input layer), batch 1 with a −1
 *   batch in the shape signature; outputs float32, named after the output layers. So the same preprocessing serves
 *   TF.js, ONNX and TFLite, also for int8 models, which quantise and dequantise at those edges (as TF's converter
 *   does by default).
 * - `float32`: the weights the IR computes with, as float32. `int8`: full integer — per-channel int8 weights,
 *   int32 biases, asymmetric int8 activations quantised on calibrated ranges (ModelIR's ActivationCalibration, measured by
 *   pipeline/activation-calibration.ts; the arithmetic in quantization.ts).
 * - BatchNormalization is folded into the Conv/Dense before it where that is the same function; ReLU/ReLU6 fuse
 *   into the op before them whenever nothing else reads that op's output.
 */
import { SlimnetError } from '../../errors.ts';
import { inferShapes } from '../../graph/shapes.ts';
import { consumedMask, maskSources } from '../../graph/masks.ts';
import type { ActivationCalibration, LayerIR, ModelIR } from '../../ir.ts';
import { foldBatchNorms } from '../../onnx/fold-batchnorm.ts';
import { TOOL } from '../../version.ts';
import { classOf, isClass, LAYER_CLASSES, layerClass } from '../../layers/registry.ts';
import { tfliteUnsupported, type TfliteConversion } from './converter.ts';
import { TfliteGraph, type Numerics, type OutputSpec, type TensorRef } from './graph.ts';
import { serializeTflite } from './serialize.ts';
import { nonZeroMask } from './ops.ts';

export interface ExportTfliteOptions {
  /** 'float32' (default) or 'int8' (full integer; needs `ranges`). */
  numerics?: Numerics;
  /** Calibrated activation ranges (int8 only), keyed as ActivationCalibration's (ir.ts). */
  ranges?: ActivationCalibration['ranges'];
}

/** Every class the TFLite export writes (its family declares a `tflite` conversion); InputLayer becomes the model input. */
export const TFLITE_LAYER_CLASSES: readonly string[] = ['InputLayer', ...LAYER_CLASSES.filter((c) => layerClass(c)?.tflite)].sort();

/** The layer's TFLite conversion, or a one-line error naming it (an unknown class: the registry's own error). */
function conversionOf(layer: LayerIR): TfliteConversion {
  const conversion = classOf(layer).tflite as TfliteConversion | undefined;
  if (!conversion) {
    throw new SlimnetError('LAYER_UNSUPPORTED', `layer "${layer.name}" (${layer.className})`, `TFLite export does not support ${layer.className} layers`,
      `supported: ${TFLITE_LAYER_CLASSES.join(', ')}`);
  }
  return conversion;
}

function checkSupported(ir: ModelIR): void {
  if (ir.inputs.length !== 1) {
    throw new SlimnetError('MODEL_INVALID', 'model.json', `the model has ${ir.inputs.length} inputs; TFLite export supports single-input models`, 'export a single-input model');
  }
  for (const layer of ir.layers) {
    if (!isClass(layer, 'InputLayer')) {
      conversionOf(layer);
      continue;
    }
    if (layer.config.dtype !== 'float32') throw tfliteUnsupported(layer, `${layer.config.dtype} inputs`, 'only float32 inputs can be exported');
  }
}

/** Layers whose output is their input's tensor (the inference no-ops, a linear Activation). */
function isIdentity(layer: LayerIR): boolean {
  return !isClass(layer, 'InputLayer') && (conversionOf(layer).identity?.(layer.config) ?? false);
}

/**
 * For each layer, how many ops read the tensor holding its output, counted at the layer that produced that
 * tensor (pass-through layers and folded BNs hand their input's tensor on). A model output counts as a reader.
 */
function tensorReaders(ir: ModelIR, aliased: (layer: LayerIR) => boolean): { source: (name: string) => string; readers: Map<string, number> } {
  const byName = new Map(ir.layers.map((l) => [l.name, l]));
  const source = (name: string): string => {
    const layer = byName.get(name);
    return layer && aliased(layer) ? source(layer.inputs[0]!) : name;
  };
  const readers = new Map<string, number>();
  const read = (name: string) => readers.set(source(name), (readers.get(source(name)) ?? 0) + 1);
  for (const layer of ir.layers) if (!aliased(layer)) layer.inputs.forEach(read);
  ir.outputs.forEach(read);
  return { source, readers };
}

export function exportTflite(ir: ModelIR, opts: ExportTfliteOptions = {}): Uint8Array {
  const numerics = opts.numerics ?? 'float32';
  if (numerics === 'int8' && !opts.ranges) throw new Error('int8 TFLite export needs calibrated activation ranges');
  checkSupported(ir);
  const shapes = new Map([...inferShapes(ir)].map(([name, s]) => [name, [1, ...s]]));
  const { ir: model, folded } = foldBatchNorms(ir, new Map([...shapes].map(([n, s]) => [n, [null, ...s.slice(1)]])));
  // A layer a BN was folded into produces the BN's values: its tensor is named (and calibrated) as the BN.
  const foldedInto = new Map<string, string>();
  for (const layer of model.layers) if (folded.has(layer.name)) foldedInto.set(layer.inputs[0]!, layer.name);
  const aliased = (layer: LayerIR) => folded.has(layer.name) || isIdentity(layer);
  const { source, readers } = tensorReaders(model, aliased);
  const inputNames = new Set(model.inputs);

  const g = new TfliteGraph(numerics, opts.ranges);
  const refs = new Map<string, TensorRef>();
  for (const name of model.inputs) refs.set(name, g.addInput(name, shapes.get(name)!));
  // Keras masks (Embedding mask_zero): 1 where the source's id is not 0, computed once per source from its ids.
  const sources = maskSources(model);
  const masks = new Map<string, TensorRef>();
  const maskOf = (source: string) => {
    if (!masks.has(source)) masks.set(source, nonZeroMask(g, refs.get(model.layers.find((l) => l.name === source)!.inputs[0]!)!, `${source}/mask`));
    return masks.get(source)!;
  };
  for (const layer of model.layers) {
    if (layer.className === 'InputLayer') continue;
    const inputs = layer.inputs.map((name) => refs.get(name) ?? fail(`layer "${layer.name}" consumes "${name}", which is not computed before it`));
    if (folded.has(layer.name)) {
      refs.set(layer.name, inputs[0]!);
      continue;
    }
    const producer = layer.inputs.length === 1 ? source(layer.inputs[0]!) : undefined;
    const outName = foldedInto.get(layer.name) ?? layer.name;
    const out: OutputSpec = { name: outName };
    const ref = conversionOf(layer).convert({
      g,
      layer,
      inputs,
      outShape: shapes.get(layer.name)!,
      out,
      ownsInput: producer !== undefined && !inputNames.has(producer) && readers.get(producer) === 1,
      ...(consumedMask(sources, layer) ? { mask: maskOf(consumedMask(sources, layer)!) } : {}),
    });
    refs.set(layer.name, ref);
  }
  for (const name of model.outputs) g.addOutput(refs.get(name)!, name);
  return serializeTflite(g.toSpec(model.name || 'model', `${TOOL.name} ${TOOL.version}`));
}

function fail(message: string): never {
  throw new Error(message);
}
