/**
 * onnxruntime training rules of the nearest-neighbour upsamplings. With an integer factor each input cell is copied
 * into an s-long block (s_h × s_w for 2-D), so its gradient is the sum of the block's: dY reshaped to split each
 * block out, then summed over it — what tfjs's ResizeNearestNeighborGrad computes for these (asymmetric, floor)
 * resizes.
 */
import type { LayerIR } from '../../ir.ts';
import { onnxAxis, type Attr, type GraphBuilder, type TensorRef } from '../../onnx/builder.ts';
import { reduceSum, reshape } from '../../train/ort/ops.ts';
import type { LayerRule } from '../../train/ort/rule.ts';
import type { UpSampling1DConfig, UpSampling2DConfig } from './index.ts';

/**
 * The ONNX tensor `x` (dims `held` in its own axis order, batch as 0) with each cell along `axis` repeated `s`
 * times in place: Unsqueeze after the axis, Expand that new axis to s, Reshape it into the axis.
 */
export function repeatAlong(b: GraphBuilder, hint: string, x: string, held: number[], axis: number, s: number): string {
  const stretched = b.op('Unsqueeze', [x, b.int64Const(`${hint}/axes`, [axis + 1])], {}, `${hint}/unsqueeze`);
  const target = held.map(() => 1);
  target.splice(axis + 1, 0, s);
  const tiled = b.op('Expand', [stretched, b.int64Const(`${hint}/repeats`, target)], {}, `${hint}/expand`);
  const out = [...held];
  out[axis] = held[axis]! * s;
  return reshape(b, tiled, out, hint);
}

/** A [N, steps, C] tensor's dims in the order its layout holds them, batch as 0 (Reshape copies it). */
export function heldDims(x: TensorRef): number[] {
  const [, steps, c] = x.shape as number[];
  return x.layout === 'nchw' ? [0, c!, steps!] : [0, steps!, c!];
}

export const upSampling1dRule: LayerRule<{ axis: number }, UpSampling1DConfig> = {
  forward({ b, layer, inputs, outShape }) {
    const x = inputs[0]!;
    const axis = onnxAxis(1, 3, x.layout);
    const y = repeatAlong(b, `${layer.name}/repeat`, x.name, heldDims(x), axis, layer.config.size);
    return { pre: { name: y, layout: x.layout, shape: outShape }, activation: { kind: 'linear' }, saved: { axis } };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const x = inputs[0]!;
    const { axis } = forward.saved;
    const blocks = heldDims(x);
    blocks.splice(axis + 1, 0, layer.config.size);
    const h = `${layer.name}/grad`;
    const dx = reduceSum(b, reshape(b, dPre, blocks, `${h}/blocks`), [axis + 1], false, `${h}/input`);
    return { inputs: [{ name: dx, layout: forward.pre.layout, shape: x.shape }], weights: {} };
  },
};

/**
 * UpSampling2D as ONNX Resize on NCHW. tfjs calls resizeNearestNeighbor / resizeBilinear without align_corners or
 * half-pixel centres: source = destination / scale, which is Resize's 'asymmetric' mode (nearest rounds down).
 */
export function resize(b: GraphBuilder, layer: LayerIR<UpSampling2DConfig>, input: TensorRef): string {
  const x = b.inLayout(input, 'nchw');
  const [sh, sw] = layer.config.size;
  const scales = b.floatConst(`${layer.name}/scales`, [4], [1, 1, sh, sw]);
  const attrs: Record<string, Attr> = layer.config.interpolation === 'nearest'
    ? { mode: { s: 'nearest' }, coordinate_transformation_mode: { s: 'asymmetric' }, nearest_mode: { s: 'floor' } }
    : { mode: { s: 'linear' }, coordinate_transformation_mode: { s: 'asymmetric' } };
  return b.op('Resize', [x.name, '', scales], attrs, `${layer.name}/resize`);
}

export const upSampling2dNearestRule: LayerRule<null, UpSampling2DConfig> = {
  unsupported: (layer) => (layer.config.interpolation === 'nearest' ? undefined : `${layer.config.interpolation} interpolation`),
  forward({ b, layer, inputs, outShape }) {
    const y = resize(b, layer, inputs[0]!);
    return { pre: { name: y, layout: 'nchw', shape: outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ b, layer, inputs, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const [, h, w, c] = inputs[0]!.shape as number[];
    const [sh, sw] = layer.config.size;
    const g = `${layer.name}/grad`;
    const dx = reduceSum(b, reshape(b, dPre, [0, c!, h!, sh, w!, sw], `${g}/blocks`), [3, 5], false, `${g}/input`);
    return { inputs: [{ name: dx, layout: 'nchw', shape: inputs[0]!.shape }], weights: {} };
  },
};
