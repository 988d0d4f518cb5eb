/**
 * Window arithmetic shared by convolutions and pools, as TensorFlow (and so tfjs) does it: output lengths
 * (tfjs conv_utils.convOutputLength, deconvLength) and 'same' padding made explicit — TF pads 'same' asymmetrically
 * (the odd extra row/column goes to the bottom/right) and computes it from the input size, so it is spelled out per
 * layer instead of trusting ONNX's auto_pad, which also keeps the graph valid for any batch size.
 */
export type Padding = 'valid' | 'same';

/** tfjs conv_utils.convOutputLength. */
export function convOutputLength(input: number, kernel: number, pad: Padding | 'causal', stride: number, dilation = 1): number {
  const dilated = kernel + (kernel - 1) * (dilation - 1);
  const len = pad === 'valid' ? input - dilated + 1 : input;
  return Math.floor((len + stride - 1) / stride);
}

/** tfjs conv_utils.deconvLength (Conv2DTranspose; no output padding). */
export function deconvLength(input: number, stride: number, kernel: number, pad: Padding): number {
  return pad === 'valid' ? input * stride + Math.max(kernel - stride, 0) : input * stride;
}

/** TF 'same' pads along one axis: [before, after]. */
export function samePads(inSize: number, kernel: number, stride: number, dilation: number): [number, number] {
  const effective = (kernel - 1) * dilation + 1;
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + effective - inSize, 0);
  const before = Math.floor(total / 2);
  return [before, total - before];
}

/** ONNX `pads` ([top, left, bottom, right]) of a 2-D window op over an H×W input. */
export function windowPads(padding: Padding, [h, w]: [number, number], kernel: [number, number], strides: [number, number], dilations: [number, number] = [1, 1]): number[] {
  if (padding === 'valid') return [0, 0, 0, 0];
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilations[1]);
  return [top, left, bottom, right];
}
