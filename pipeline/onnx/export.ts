/**
 * ModelIR → ONNX ModelProto bytes, in TypeScript (no Python, no tf2onnx).
 *
 * Contract of the exported graph:
 * - Inputs and outputs are named after the tfjs model's input and output layers, with a dynamic batch
 *   dimension (dim_param "batch").
 * - The input takes the same NHWC tensor the tfjs model takes; the graph transposes to NCHW once for its
 *   convolutions and pools and back to NHWC before Flatten/Reshape/Dense and at 4-D outputs, so one
 *   preprocessing serves both runtimes. A transpose that moves only size-1 axes is a Reshape; a Flatten read only
 *   by Dense layers flattens the NCHW tensor and their kernel rows are reordered instead (fold-flatten.ts). A 2-D
 *   global pool over a channels-first map is GlobalAveragePool/GlobalMaxPool + Flatten, which onnxruntime runs
 *   inside its blocked (NCHWc) layout, reordering C values back instead of the whole map.
 * - Opset 13 by default, IR version 8: every op used here has had its current semantics since opset 13
 *   (Softmax on a single axis, Clip/Pad taking tensors), opset 13 is what most runtimes (onnxruntime-web,
 *   mobile builds) support, and IR 8 / opset ≤ 17 is the newest the ONNX 1.12 checker in Debian accepts.
 *   Opsets 14–17 are allowed: the ops emitted here (ReduceMean/ReduceMax with an `axes` attribute, Pad,
 *   Resize, Softmax) keep the same signature through opset 17 and change only at 18.
 * - `extraOutputs` adds graph outputs for intermediate layers (calibration reads activations through them),
 *   each named after its layer, in the Keras layout, with the same value as tfjs's `getLayer(name).output`.
 */
import { SlimnetError } from '../errors.ts';
import { inferShapes } from '../graph/shapes.ts';
import { consumedMask, maskSources } from '../graph/masks.ts';
import type { ActivationRange, LayerIR, ModelIR } from '../ir.ts';
import { classOf, isClass, LAYER_CLASSES, layerClass } from '../layers/registry.ts';
import { layerWhere } from '../layers/shared.ts';
import { TOOL } from '../version.ts';
import { GraphBuilder, NHWC_TO_NCHW, type Dim, type Layout, type TensorRef } from './builder.ts';
import { unsupportedOption, type LayerConverter } from './converter.ts';
import { qdq } from './activation-qdq.ts';
import { foldBatchNorms } from './fold-batchnorm.ts';
import { foldFlattenTransposes } from './fold-flatten.ts';
import { encodeModel, FLOAT } from './proto.ts';

export const DEFAULT_OPSET = 13;
export const MIN_OPSET = 13;
export const MAX_OPSET = 17;
export const ONNX_IR_VERSION = 8;

export interface ExportOnnxOptions {
  /** ONNX opset, 13..17 (default 13). */
  opset?: number;
  /**
   * Layer names whose outputs become extra graph outputs after the model's own: named after the layer,
   * channels-last (as tfjs has them), dynamic batch. A BatchNormalization is not folded into a listed layer.
   */
  extraOutputs?: string[];
  /**
   * Static int8 activations: tensor ranges (ModelIR.calibration's) for the input and layer outputs to quantise.
   * Model outputs stay float. Absent: float activations.
   */
  activationRanges?: Readonly<Record<string, ActivationRange>>;
  /**
   * Graph inputs and outputs (by layer name) of rank 4 exchanged channels-first ([N,C,H,W]) instead of in the Keras
   * layout: for a model split in two (pipeline/graph/cut.ts) whose halves pass feature maps to each other, so that
   * neither half transposes them at the boundary.
   */
  channelsFirst?: ReadonlySet<string>;
}

function checkOpset(opset: number): void {
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > MAX_OPSET) {
    throw new SlimnetError('CONFIG_INVALID', 'opset', `ONNX opset ${opset} is not supported`, `use an integer from ${MIN_OPSET} to ${MAX_OPSET}`);
  }
}

/** The requested extra outputs that are not model outputs already, each once; unknown names are a caller bug. */
function extraOutputsOf(ir: ModelIR, requested: string[]): string[] {
  const known = new Set(ir.layers.map((l) => l.name));
  for (const name of requested) if (!known.has(name)) throw new Error(`extraOutputs: the model has no layer "${name}"`);
  return [...new Set(requested)].filter((name) => !ir.outputs.includes(name));
}

/** Every class the ONNX export handles; InputLayer becomes a graph input rather than a node. */
export const ONNX_LAYER_CLASSES: readonly string[] = LAYER_CLASSES.filter((c) => layerClass(c)!.arity === 'none' || layerClass(c)!.onnx);

/** The layer's converter, or the one error for a class (or a class without ONNX support) the export cannot take. */
export function converterFor(layer: LayerIR): LayerConverter {
  const converter = classOf(layer).onnx;
  if (!converter) {
    throw new SlimnetError('LAYER_UNSUPPORTED', layerWhere(layer), `ONNX export does not support ${layer.className} layers`, `supported: ${ONNX_LAYER_CLASSES.join(', ')}`);
  }
  return converter as LayerConverter;
}

/** Serialized ModelProto (the bytes of a .onnx file) computing what the IR computes. */
export function exportOnnx(ir: ModelIR, opts: ExportOnnxOptions = {}): Uint8Array {
  const opset = opts.opset ?? DEFAULT_OPSET;
  checkOpset(opset);
  const extras = extraOutputsOf(ir, opts.extraOutputs ?? []);
  // Fail on the first unsupported layer before any work, so the error is about the model, not a half-built graph.
  for (const layer of ir.layers) {
    if (isClass(layer, 'InputLayer')) {
      if (layer.config.dtype !== 'float32') throw unsupportedOption(layer, `${layer.config.dtype} inputs`, 'only float32 inputs can be exported');
    } else {
      converterFor(layer);
    }
  }
  // Keras shapes with the batch axis in front (inferShapes gives per-sample shapes).
  const shapes = new Map<string, Dim[]>([...inferShapes(ir)].map(([name, s]) => [name, [null, ...s]]));
  const { ir: model, folded } = foldBatchNorms(ir, shapes, new Set(extras));
  const shapeOf = (name: string) => {
    const s = shapes.get(name);
    if (!s) throw new Error(`no shape for layer "${name}"`);
    return s;
  };

  const b = new GraphBuilder();
  const ranges = opts.activationRanges;
  const outputs = new Set([...model.outputs, ...extras]);
  /** The tensor consumers read for layer `name`: its QDQ'd copy when its activations are quantised. */
  // A layer a BatchNormalization is folded into outputs the BN's values: it is quantised with the BN's range.
  const rangeOwner = new Map(model.layers.filter((l) => folded.has(l.name)).map((bn) => [bn.inputs[0]!, bn.name]));
  // Tensors read as integer indices (Embedding ids) stay exact: a rounded id reads another row.
  const readers = (name: string) => model.layers.filter((l) => l.inputs.includes(name));
  const indices = new Set(model.layers.map((l) => l.name).concat(model.inputs).filter((n) => {
    const r = readers(n);
    return r.length > 0 && r.every((l) => classOf(l).indexInput);
  }));
  const quantized = (name: string, tensor: string) => {
    const owner = rangeOwner.get(name) ?? name;
    return ranges?.[owner] && !outputs.has(owner) && !outputs.has(name) && !indices.has(name) ? qdq(b, tensor, ranges[owner]!, name) : tensor;
  };
  for (const name of new Set([...model.inputs, ...model.outputs, ...extras])) b.claim(name);
  const refs = new Map<string, TensorRef>();
  const boundaryLayout = (name: string): Layout => (opts.channelsFirst?.has(name) && shapeOf(name).length === 4 ? 'nchw' : 'keras');
  for (const name of model.inputs) {
    const layout = boundaryLayout(name);
    b.addInput(name, layout === 'nchw' ? NHWC_TO_NCHW.map((p) => shapeOf(name)[p]!) : shapeOf(name));
    refs.set(name, { name: quantized(name, name), layout, shape: shapeOf(name) });
  }
  // Keras masks (Embedding mask_zero): 1 where the source's id is not 0, computed once per source from its ids.
  const sources = maskSources(model);
  const masks = new Map<string, string>();
  const maskOf = (source: string) => {
    if (!masks.has(source)) {
      const ids = b.inLayout(refs.get(model.layers.find((l) => l.name === source)!.inputs[0]!)!, 'keras').name;
      const zero = b.op('Equal', [ids, b.floatConst(`${source}/mask/zero`, [], [0])], {}, `${source}/mask/is_zero`);
      masks.set(source, b.op('Cast', [b.op('Not', [zero], {}, `${source}/mask/kept`)], { to: { i: FLOAT } }, `${source}/mask`));
    }
    return masks.get(source)!;
  };
  for (const layer of model.layers) {
    if (classOf(layer).arity === 'none') continue;
    const inputs = layer.inputs.map((name) => {
      const ref = refs.get(name);
      if (!ref) throw new Error(`layer "${layer.name}" consumes "${name}", which is not computed before it`);
      return ref;
    });
    const source = consumedMask(sources, layer);
    const produced = folded.has(layer.name)
      ? inputs[0]
      : converterFor(layer)({ b, layer, inputs, outShape: shapeOf(layer.name), ...(source ? { mask: maskOf(source) } : {}) });
    const name = folded.has(layer.name) ? produced.name : quantized(layer.name, produced.name);
    refs.set(layer.name, { name, layout: produced.layout, shape: shapeOf(layer.name) });
  }
  for (const name of [...model.outputs, ...extras]) {
    // An input layer's output is the graph input itself: listing it as an output needs no node.
    const layout = boundaryLayout(name);
    const ref = b.inLayout(refs.get(name)!, layout);
    if (ref.name !== name) b.alias(ref.name, name);
    b.addOutput(name, layout === 'nchw' ? NHWC_TO_NCHW.map((p) => shapeOf(name)[p]!) : shapeOf(name));
  }

  const graph = b.graph(model.name || 'model', 'Inputs and outputs are channels-last (NHWC), exactly as the tfjs model.');
  foldFlattenTransposes(graph, b.transposes);
  return encodeModel({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    producerName: TOOL.name,
    producerVersion: TOOL.version,
    graph,
    metadataProps: [{ key: 'input_layout', value: 'NHWC' }],
  });
}
