/**
 * onnxruntime training rules of ZeroPadding2D and Cropping2D: each one's gradient is the other — the padded
 * border's gradient is dropped (Slice), a cropped border gets 0 (Pad) — in whatever layout the input arrives.
 * Keras-converted mobile nets pad before every stride-2 depthwise convolution; without these rules their
 * fine-tuning fell back to tfjs-wasm.
 */
import { onnxAxis, type Dim, type GraphBuilder, type Layout } from '../../onnx/builder.ts';
import type { LayerRule } from '../../train/ort/rule.ts';
import type { Cropping2DConfig, Sides, ZeroPadding2DConfig } from './index.ts';

function fixedSpatial(inShapes: Dim[][]): string | undefined {
  const s = inShapes[0]!;
  if (s.length !== 4 || s.slice(1, 3).some((d) => d === null)) return `input shape [${s}] (needs a fixed H and W)`;
  return undefined;
}

/** x with `sides` added (zeros) on the spatial axes of its layout. */
function padSpatial(b: GraphBuilder, x: string, layout: Layout, [[top, bottom], [left, right]]: Sides, hint: string): string {
  const pads = layout === 'nchw' ? [0, 0, top, left, 0, 0, bottom, right] : [0, top, left, 0, 0, bottom, right, 0];
  // -0.0, as the ONNX export pads (see index.ts): onnxruntime must not fuse it into a following pool.
  return b.op('Pad', [x, b.int64Const(`${hint}/pads`, pads), b.floatConst(`${hint}/value`, [], [-0])], { mode: { s: 'constant' } }, hint);
}

/** x without `sides` on the spatial axes of its layout; `h`, `w` are x's spatial sizes. */
function cropSpatial(b: GraphBuilder, x: string, layout: Layout, [[top, bottom], [left, right]]: Sides, [h, w]: [number, number], hint: string): string {
  const axes = b.int64Const(`${hint}/axes`, [onnxAxis(1, 4, layout), onnxAxis(2, 4, layout)]);
  return b.op('Slice', [x, b.int64Const(`${hint}/starts`, [top, left]), b.int64Const(`${hint}/ends`, [h - bottom, w - right]), axes], {}, hint);
}

const spatialSize = (shape: Dim[]): [number, number] => [shape[1] as number, shape[2] as number];

export const zeroPadding2dRule: LayerRule<null, ZeroPadding2DConfig> = {
  unsupported: (_layer, inShapes) => fixedSpatial(inShapes),
  forward({ b, layer, inputs, outShape }) {
    const x = inputs[0]!;
    return { pre: { name: padSpatial(b, x.name, x.layout, layer.config.padding, `${layer.name}/pad`), layout: x.layout, shape: outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const dx = cropSpatial(b, dPre, forward.pre.layout, layer.config.padding, spatialSize(forward.pre.shape), `${layer.name}/grad/input`);
    return { inputs: [{ name: dx, layout: forward.pre.layout, shape: inputs[0]!.shape }], weights: {} };
  },
};

export const cropping2dRule: LayerRule<null, Cropping2DConfig> = {
  unsupported: (_layer, inShapes) => fixedSpatial(inShapes),
  forward({ b, layer, inputs, outShape }) {
    const x = inputs[0]!;
    const y = cropSpatial(b, x.name, x.layout, layer.config.cropping, spatialSize(x.shape), `${layer.name}/crop`);
    return { pre: { name: y, layout: x.layout, shape: outShape }, activation: { kind: 'linear' }, saved: null };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const dx = padSpatial(b, dPre, forward.pre.layout, layer.config.cropping, `${layer.name}/grad/input`);
    return { inputs: [{ name: dx, layout: forward.pre.layout, shape: inputs[0]!.shape }], weights: {} };
  },
};
