/**
 * The onnxruntime training rule of BatchNormalization, in training mode as tfjs-layers runs it in fit(): normalise with the batch's mean and
 * biased variance (tf.moments), then update each running statistic as `s − (s − batchStat)·(1 − momentum)`.
 * The updated statistics are graph outputs; gamma/beta are trained. Reverse pass, with x̂ = (x − μ)·σ⁻¹:
 * dx = σ⁻¹ · (dx̂ − mean(dx̂) − x̂ · mean(dx̂ · x̂)), dx̂ = dy·γ, dγ = Σ dy·x̂, dβ = Σ dy.
 * With `batchNorm: 'moving'` the running statistics are frozen constants (inference-mode BN, for small batches):
 * x̂ = (x − moving_mean)·σ⁻¹ and dx = dx̂·σ⁻¹; gamma/beta still train.
 */
import { onnxAxis, type Layout } from '../../onnx/builder.ts';
import { requireWeight } from '../../onnx/converter.ts';
import { mul, opInto, reduceMean, reduceSum, reshape, scalar } from '../../train/ort/ops.ts';
import type { LayerRule, WeightLayout } from '../../train/ort/rule.ts';
import type { BatchNormalizationConfig } from './index.ts';

interface BnSaved {
  xhat: string;
  invStd: string;
  /** Normalised with the running statistics (constants): dx has no batch-mean terms. */
  frozen: boolean;
  gamma?: string;
  /** ONNX axes reduced over (all but the channel axis). */
  axes: number[];
  paramShape: number[];
}

/** Per-channel vectors broadcast against the channel axis: [C, 1, 1] in NCHW ([C, 1] for [N, C, L]), [C] when channels are last. */
function channelLayout(channels: number, layout: Layout, rank: number): WeightLayout {
  const shape = layout === 'nchw' ? [channels, ...new Array<number>(rank - 2).fill(1)] : [channels];
  return { shape, toTrain: (v) => v.slice(), toIR: (v) => v.slice() };
}

export const batchNormRule: LayerRule<BnSaved, BatchNormalizationConfig> = {
  unsupported(layer, inShapes) {
    const rank = inShapes[0]!.length;
    const axis = layer.config.axis;
    if (axis !== -1 && axis !== rank - 1) return `normalisation over axis ${axis} (only the channel axis, last, is covered)`;
    if (inShapes[0]![rank - 1] === null) return 'an unknown channel count';
    return undefined;
  },
  forward({ b, layer, inputs, weights, batchNorm }) {
    const x = inputs[0]!;
    const rank = x.shape.length;
    const channelAxis = onnxAxis(-1, rank, x.layout);
    const axes = Array.from({ length: rank }, (_, i) => i).filter((i) => i !== channelAxis);
    const channels = requireWeight(layer, 'moving_mean').values.length;
    const layout = channelLayout(channels, x.layout, rank);
    const h = layer.name;
    const { momentum, epsilon } = layer.config;

    const frozen = batchNorm === 'moving';
    // Frozen running statistics are constants of the step graph (never trained, never updated).
    const running = (stat: string) => b.floatConst(`${h}/${stat}`, layout.shape, layout.toTrain(requireWeight(layer, stat).values));
    const mean = frozen ? running('moving_mean') : reduceMean(b, x.name, axes, true, `${h}/batch_mean`);
    const centred = b.op('Sub', [x.name, mean], {}, `${h}/centred`);
    const variance = frozen ? running('moving_variance') : reduceMean(b, mul(b, centred, centred, `${h}/sq`), axes, true, `${h}/batch_variance`);
    const std = b.op('Sqrt', [b.op('Add', [variance, scalar(b, `${h}/epsilon`, epsilon)], {}, `${h}/var_eps`)], {}, `${h}/std`);
    const invStd = b.op('Reciprocal', [std], {}, `${h}/inv_std`);
    const xhat = mul(b, centred, invStd, `${h}/xhat`);
    let y = xhat;
    const gamma = layer.config.scale ? weights.weight('gamma', layout) : undefined;
    if (gamma) y = mul(b, y, gamma, `${h}/scaled`);
    if (layer.config.center) y = b.op('Add', [y, weights.weight('beta', layout)], {}, `${h}/shifted`);

    const decay = scalar(b, `${h}/decay`, 1 - momentum);
    for (const [stat, batchStat] of frozen ? [] : ([['moving_mean', mean], ['moving_variance', variance]] as const)) {
      const s = weights.state(stat, layout);
      const batchValue = reshape(b, batchStat, layout.shape, `${h}/${stat}/batch`);
      const delta = mul(b, b.op('Sub', [s.current, batchValue], {}, `${h}/${stat}/diff`), decay, `${h}/${stat}/delta`);
      opInto(b, 'Sub', [s.current, delta], s.next);
    }
    return {
      pre: { name: y, layout: x.layout, shape: x.shape },
      activation: { kind: 'linear' },
      saved: { xhat, invStd, frozen, gamma, axes, paramShape: layout.shape },
    };
  },
  backward({ b, layer, inputs, forward, dPre, needInput, trainable }) {
    const h = `${layer.name}/grad`;
    const { xhat, invStd, frozen, gamma, axes, paramShape } = forward.saved;
    const weights: Record<string, string> = {};
    const perChannel = (t: string, name: string) => reshape(b, reduceSum(b, t, axes, false, `${h}/${name}_sum`), paramShape, `${h}/${name}`);
    if (trainable.has('gamma')) weights.gamma = perChannel(mul(b, dPre, xhat, `${h}/dy_xhat`), 'gamma');
    if (trainable.has('beta')) weights.beta = perChannel(dPre, 'beta');
    if (!needInput[0]) return { inputs: [undefined], weights };
    const dxhat = gamma ? mul(b, dPre, gamma, `${h}/dxhat`) : dPre;
    if (frozen) return { inputs: [{ name: mul(b, dxhat, invStd, `${h}/input`), layout: inputs[0]!.layout, shape: inputs[0]!.shape }], weights };
    const meanD = reduceMean(b, dxhat, axes, true, `${h}/mean_dxhat`);
    const meanDX = reduceMean(b, mul(b, dxhat, xhat, `${h}/dxhat_xhat`), axes, true, `${h}/mean_dxhat_xhat`);
    const inner = b.op('Sub', [b.op('Sub', [dxhat, meanD], {}, `${h}/minus_mean`), mul(b, xhat, meanDX, `${h}/xhat_term`)], {}, `${h}/inner`);
    const dx = mul(b, inner, invStd, `${h}/input`);
    return { inputs: [{ name: dx, layout: inputs[0]!.layout, shape: inputs[0]!.shape }], weights };
  },
};
