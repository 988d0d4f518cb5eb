/**
 * The replacements, initialised to preserve the function:
 *
 *  Conv2D (kh×kw, C → F)  ⟶  DepthwiseConv2D(kh×kw, multiplier m, linear, no bias) → Conv2D(1×1, F, original bias
 *  and activation). Per input channel c, the kernel slice K_c [(kh·kw) × F] is factorised by SVD: K_c ≈ Σ_{t<m}
 *  u_t·s_t·v_tᵀ; depthwise kernel (c, t) = u_t·√s_t, pointwise row c·m + t = √s_t·v_tᵀ (TF's depthwise channel
 *  order). With m = rank(K_c) (at most kh·kw) the pair computes exactly the original convolution.
 *
 *  Dense (in → out)  ⟶  Dense(r, linear, no bias) → Dense(out, original bias and activation): W ≈ U_r·S_r·V_rᵀ,
 *  first kernel U_r·√S_r, second √S_r·V_rᵀ; exact at r = rank(W).
 *
 * The second layer keeps the original layer's name (its consumers and the model outputs stay wired to it; the ONNX
 * and TF.js outputs keep their names), and its Keras config is the original's with the kernel made 1×1: every
 * other option (activation, bias, initialisers, regularisers, trainable) is carried over. The first layer is new,
 * with tfjs's defaults (pipeline/layers/create.ts), named `<name>_depthwise` / `<name>_lowrank`.
 *
 * Singular vectors are computed once per layer (`factorizeConv` / `factorizeDense`) and any m or r is then cut
 * from them, so trying several is cheap.
 */
import { getWeight, type LayerIR } from '../ir.ts';
import { createLayer } from '../layers/create.ts';
import { isClass, withConfig, type LayerConfigs } from '../layers/registry.ts';
import { svd, type Svd } from '../linalg/svd.ts';

export type Conv2DLayer = LayerIR<LayerConfigs['Conv2D']>;
export type DenseLayer = LayerIR<LayerConfigs['Dense']>;

/** The per-input-channel SVDs of a Conv2D kernel. */
export interface ConvFactors {
  kind: 'conv';
  layer: Conv2DLayer;
  /** kh·kw */
  taps: number;
  channels: number;
  filters: number;
  /** One per input channel: (kh·kw) × filters. */
  slices: Svd[];
}

export interface DenseFactors {
  kind: 'dense';
  layer: DenseLayer;
  inputs: number;
  units: number;
  factors: Svd;
}

export type Factors = ConvFactors | DenseFactors;

/** The two layers that replace one. */
export interface Pair {
  first: LayerIR;
  second: LayerIR;
}

export function factorizeConv(layer: Conv2DLayer): ConvFactors {
  const kernel = getWeight(layer, 'kernel')!;
  const [kh, kw, channels, filters] = kernel.shape as [number, number, number, number];
  const taps = kh * kw;
  const slices: Svd[] = [];
  const slice = new Float64Array(taps * filters);
  for (let c = 0; c < channels; c++) {
    // K[i, j, c, f] at ((i·kw + j)·C + c)·F + f.
    for (let t = 0; t < taps; t++) for (let f = 0; f < filters; f++) slice[t * filters + f] = kernel.values[(t * channels + c) * filters + f]!;
    slices.push(svd(slice, taps, filters));
  }
  return { kind: 'conv', layer, taps, channels, filters, slices };
}

export function factorizeDense(layer: DenseLayer): DenseFactors {
  const kernel = getWeight(layer, 'kernel')!;
  const [inputs, units] = kernel.shape as [number, number];
  return { kind: 'dense', layer, inputs, units, factors: svd(kernel.values, inputs, units) };
}

export function factorize(layer: LayerIR): Factors {
  if (isClass(layer, 'Conv2D')) return factorizeConv(layer);
  if (isClass(layer, 'Dense')) return factorizeDense(layer);
  throw new Error(`cannot factorise ${layer.className} layer "${layer.name}"`);
}

/** DepthwiseConv2D(m) → 1×1 Conv2D, from the SVDs (components beyond a slice's rank are zero). */
export function separablePair(f: ConvFactors, m: number, firstName: string): Pair {
  const { layer, taps, channels, filters } = f;
  const c = layer.config;
  const depthwise = new Float32Array(taps * channels * m);
  const pointwise = new Float32Array(channels * m * filters);
  f.slices.forEach((d, ch) => {
    for (let t = 0; t < Math.min(m, d.k); t++) {
      const root = Math.sqrt(d.s[t]!);
      // depthwise_kernel [kh, kw, C, m]: (tap, ch, t) at (tap·C + ch)·m + t.
      for (let tap = 0; tap < taps; tap++) depthwise[(tap * channels + ch) * m + t] = d.u[tap * d.k + t]! * root;
      // pointwise kernel [1, 1, C·m, F]: row ch·m + t.
      for (let o = 0; o < filters; o++) pointwise[(ch * m + t) * filters + o] = root * d.v[o * d.k + t]!;
    }
  });
  const first = createLayer('DepthwiseConv2D', {
    name: firstName, kernelSize: [...c.kernelSize], strides: [...c.strides], padding: c.padding, depthMultiplier: m,
    activation: 'linear', useBias: false, trainable: c.trainable,
  }, [...layer.inputs], [{ name: 'depthwise_kernel', shape: [...c.kernelSize, channels, m], values: depthwise }]);
  const bias = getWeight(layer, 'bias');
  const second: LayerIR = {
    ...withConfig(layer, { kernelSize: [1, 1], strides: [1, 1], padding: 'valid', dilationRate: [1, 1] }),
    inputs: [firstName],
    weights: [{ name: 'kernel', shape: [1, 1, channels * m, filters], values: pointwise }, ...(bias ? [{ ...bias, values: bias.values.slice(), shape: [...bias.shape] }] : [])],
  };
  return { first, second };
}

/** Dense(r, linear, no bias) → Dense(out) with the original bias and activation. */
export function lowRankPair(f: DenseFactors, r: number, firstName: string): Pair {
  const { layer, inputs, units, factors: d } = f;
  const first = new Float32Array(inputs * r);
  const second = new Float32Array(r * units);
  for (let t = 0; t < Math.min(r, d.k); t++) {
    const root = Math.sqrt(d.s[t]!);
    for (let i = 0; i < inputs; i++) first[i * r + t] = d.u[i * d.k + t]! * root;
    for (let o = 0; o < units; o++) second[t * units + o] = root * d.v[o * d.k + t]!;
  }
  const firstLayer = createLayer('Dense', { name: firstName, units: r, activation: 'linear', useBias: false, trainable: layer.config.trainable },
    [...layer.inputs], [{ name: 'kernel', shape: [inputs, r], values: first }]);
  const bias = getWeight(layer, 'bias');
  const secondLayer: LayerIR = {
    ...layer,
    inputs: [firstName],
    weights: [{ name: 'kernel', shape: [r, units], values: second }, ...(bias ? [{ ...bias, values: bias.values.slice(), shape: [...bias.shape] }] : [])],
  };
  return { first: firstLayer, second: secondLayer };
}

/** The pair for `size` (m for a convolution, r for a dense layer). */
export function pairOf(f: Factors, size: number, firstName: string): Pair {
  return f.kind === 'conv' ? separablePair(f, size, firstName) : lowRankPair(f, size, firstName);
}
