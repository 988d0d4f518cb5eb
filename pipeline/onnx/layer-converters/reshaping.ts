/**
 * Layers that move data around: Flatten, Reshape, ZeroPadding2D, Cropping2D, UpSampling2D, and the inference
 * no-ops (Dropout and friends). Flatten and Reshape are defined on the Keras (NHWC) element order, so
 * their input is brought back to Keras layout first: then a following Dense's weights apply unchanged.
 */
import type { LayerIR } from '../../ir.ts';
import { SlimnetError } from '../../errors.ts';
import { sides } from '../../graph/shapes.ts';
import { onnxAxis, type Attr } from '../builder.ts';
import {
  pairOpt, requireChannelsLast, stringOpt, unsupportedOption, whereOf, type LayerConverter,
} from './common.ts';

const flatten: LayerConverter = ({ b, layer, inputs }) => {
  requireChannelsLast(layer);
  const x = b.inLayout(inputs[0], 'keras');
  return { name: b.op('Flatten', [x.name], { axis: { i: 1 } }, `${layer.name}/flatten`), layout: 'keras' };
};

function targetShape(layer: LayerIR): number[] {
  const raw = layer.config.target_shape;
  if (!Array.isArray(raw) || !raw.every((d) => d === null || (typeof d === 'number' && Number.isInteger(d)))) {
    throw new SlimnetError('MODEL_INVALID', `${whereOf(layer)} (Reshape)`, `config.target_shape should be a list of integers, got ${JSON.stringify(raw)}`);
  }
  // tfjs treats null and negative entries as the one unknown dimension.
  return raw.map((d) => (d === null || (d as number) < 0 ? -1 : (d as number)));
}

const reshape: LayerConverter = ({ b, layer, inputs }) => {
  const x = b.inLayout(inputs[0], 'keras');
  // Leading 0 copies the batch dimension (allowzero is 0), so the batch stays dynamic.
  const shape = b.int64Const(`${layer.name}/shape`, [0, ...targetShape(layer)]);
  return { name: b.op('Reshape', [x.name, shape], {}, `${layer.name}/reshape`), layout: 'keras' };
};

/** tfjs stores [[top, bottom], [left, right]]; Keras also allows `n` and `[h, w]`. */
const zeroPadding2d: LayerConverter = ({ b, layer, inputs }) => {
  requireChannelsLast(layer);
  const x = inputs[0];
  const [[top, bottom], [left, right]] = sides(layer, 'padding', 1);
  // ONNX pads: all begins, then all ends, in the tensor's own axis order.
  const pads = x.layout === 'nchw' ? [0, 0, top, left, 0, 0, bottom, right] : [0, top, left, 0, 0, bottom, right, 0];
  const padsName = b.int64Const(`${layer.name}/pads`, pads);
  // Pad with -0.0, not 0: equal in every later op, but it stops onnxruntime's PadFusion (which checks for
  // all-zero bytes) from folding the Pad into a following MaxPool/AveragePool's own pads — those ignore
  // padded cells, so the fused graph computes something else (onnxruntime pad_fusion.cc; onnxsim#290).
  const negativeZero = b.floatConst(`${layer.name}/value`, [], [-0]);
  return { name: b.op('Pad', [x.name, padsName, negativeZero], { mode: { s: 'constant' } }, `${layer.name}/pad`), layout: x.layout };
};

/** Slice with negative ends counts from the far edge, so no input size is needed. */
const cropping2d: LayerConverter = ({ b, layer, inputs }) => {
  requireChannelsLast(layer);
  const x = inputs[0];
  const [[top, bottom], [left, right]] = sides(layer, 'cropping', 0);
  const toEnd = Number.MAX_SAFE_INTEGER; // ONNX clamps ends to the dimension
  const axes = [onnxAxis(1, 4, x.layout), onnxAxis(2, 4, x.layout)];
  const starts = b.int64Const(`${layer.name}/starts`, [top, left]);
  const ends = b.int64Const(`${layer.name}/ends`, [bottom ? -bottom : toEnd, right ? -right : toEnd]);
  const axesName = b.int64Const(`${layer.name}/axes`, axes);
  return { name: b.op('Slice', [x.name, starts, ends, axesName], {}, `${layer.name}/crop`), layout: x.layout };
};

/**
 * tfjs UpSampling2D calls resizeNearestNeighbor / resizeBilinear without align_corners or half-pixel
 * centres: source = destination / scale, which is ONNX Resize's 'asymmetric' mode (nearest rounds down).
 */
const upSampling2d: LayerConverter = ({ b, layer, inputs }) => {
  requireChannelsLast(layer);
  const [sh, sw] = pairOpt(layer, 'size', [2, 2]);
  const interpolation = stringOpt(layer, 'interpolation', 'nearest');
  if (interpolation !== 'nearest' && interpolation !== 'bilinear') {
    throw unsupportedOption(layer, `interpolation "${interpolation}"`, "use 'nearest' or 'bilinear'");
  }
  const x = b.inLayout(inputs[0], 'nchw');
  const scales = b.floatConst(`${layer.name}/scales`, [4], [1, 1, sh, sw]);
  const attrs: Record<string, Attr> = interpolation === 'nearest'
    ? { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } }
    : { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'asymmetric' } };
  return { name: b.op('Resize', [x.name, '', scales], attrs, `${layer.name}/resize`), layout: 'nchw' };
};

/** Dropout-style layers do nothing at inference: the layer's output is its input. */
const passThrough: LayerConverter = ({ inputs }) => inputs[0];

export const reshapingConverters: Record<string, LayerConverter> = {
  Flatten: flatten,
  Reshape: reshape,
  ZeroPadding2D: zeroPadding2d,
  Cropping2D: cropping2d,
  UpSampling2D: upSampling2d,
  Dropout: passThrough,
  SpatialDropout1D: passThrough,
  GaussianDropout: passThrough,
  GaussianNoise: passThrough,
  AlphaDropout: passThrough,
};
