/**
 * TensorFlow's 'same'/'valid' padding as explicit ONNX pads. TF pads 'same' asymmetrically (the odd extra
 * row/column goes to the bottom/right) and computes it from the input size, so it is spelled out per
 * layer instead of trusting auto_pad — which also keeps the graph valid for any batch size.
 */
import type { LayerIR } from '../../ir.ts';
import type { Dim } from '../builder.ts';
import { unsupportedOption } from './common.ts';

/** Pads along one spatial axis: [before, after]. */
export function samePads(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** ONNX `pads` ([top, left, bottom, right]) for a 2-D window op on an NHWC input of shape `inShape`. */
export function windowPads(
  layer: LayerIR,
  padding: string,
  inShape: Dim[],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number] = [1, 1],
): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  if (padding !== 'same') {
    throw unsupportedOption(layer, `padding "${padding}"`, "use padding 'same' or 'valid'");
  }
  const [h, w] = [inShape[1], inShape[2]];
  if (h === null || w === null) {
    throw unsupportedOption(
      layer,
      "padding 'same' with an unknown input height/width",
      'give the model input a fixed spatial size',
    );
  }
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilations[1]);
  return [top, left, bottom, right];
}
