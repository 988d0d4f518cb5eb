/**
 * The preprocessing family: Rescaling, y = x·scale + offset, as tfjs-layers 4.22 computes it (`add(mul(x, scale),
 * offset)`; an absent, null or 0 offset is 0). `scale` and `offset` are numbers, or per-channel lists (what the Keras
 * reader makes of a Keras Normalization) that broadcast along the last axis. No weights, 0 MACs (element-wise, like
 * every activation), the input's shape.
 *
 * Pruning: a scalar Rescaling passes channels through; per-channel values live in the config, not in a weight
 * pruning could slice, so such a layer keeps the channels it touches (it normally sits on the model input, whose
 * channels stay anyway). ONNX: Mul + Add. TFLite: one 1×1 depthwise convolution, as BatchNormalization. ORT
 * training: element-wise, dx = dy·scale.
 */
import { channelAffineTflite } from './normalization/tflite.ts';
import type { GraphBuilder, TensorRef } from '../onnx/builder.ts';
import type { LayerRule } from '../train/ort/rule.ts';
import { badValue, custom } from './config.ts';
import { invalid, noWeights } from './shared.ts';
import { defineLayer, type ChannelContext, type KerasValue, type LayerConfig, type Shape } from './types.ts';
import type { LayerIR } from '../ir.ts';

/** A number, or one value per channel. */
export type ScaleValue = number | number[];

export interface RescalingConfig extends LayerConfig {
  scale: ScaleValue;
  offset: ScaleValue;
}

const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

function scaleValue(key: 'scale' | 'offset') {
  return custom<ScaleValue>(key, (v, ctx) => {
    // tfjs: `if (args.offset) … else 0` — absent, null and 0 are all 0.
    if (key === 'offset' && (v === undefined || v === null)) return 0;
    if (isFiniteNumber(v)) return v;
    if (Array.isArray(v) && v.length > 0 && v.every(isFiniteNumber)) return [...(v as number[])];
    throw badValue(ctx, 'a finite number or a non-empty list of finite numbers (one per channel)', v);
  }, (v): KerasValue => (typeof v === 'number' ? v : [...v]));
}

const perChannel = (c: RescalingConfig) => Array.isArray(c.scale) || Array.isArray(c.offset);

/** The per-channel lists must match the input's last axis (or hold one value). */
function outputShape(layer: LayerIR<RescalingConfig>, inputs: Shape[]): Shape {
  const shape = inputs[0]!;
  const channels = shape.at(-1);
  for (const key of ['scale', 'offset'] as const) {
    const v = layer.config[key];
    if (Array.isArray(v) && v.length !== 1 && v.length !== channels) {
      throw invalid(layer, `config.${key} has ${v.length} values for an input with ${channels} channels [${shape}]`, 'give one value, or one per channel of the last axis');
    }
  }
  return [...shape];
}

/** scale and offset as arrays of `channels` values (a number repeated). */
export function rescalingAffine(c: RescalingConfig, channels: number): { scale: Float32Array; shift: Float32Array } {
  const expand = (v: ScaleValue) => Float32Array.from({ length: channels }, (_, i) => (typeof v === 'number' ? v : v.length === 1 ? v[0]! : v[i]!));
  return { scale: expand(c.scale), shift: expand(c.offset) };
}

/** x·scale + offset in ONNX ops; per-channel values need the Keras layout (channels last), a number does not. */
function affineOnnx(b: GraphBuilder, c: RescalingConfig, input: TensorRef, hint: string): { y: TensorRef; scale: string } {
  const x = perChannel(c) ? b.inLayout(input, 'keras') : input;
  const constant = (v: ScaleValue, name: string) => (typeof v === 'number' ? b.floatConst(`${hint}/${name}`, [], [v]) : b.floatConst(`${hint}/${name}`, [v.length], v));
  const scale = constant(c.scale, 'scale');
  const scaled = b.op('Mul', [x.name, scale], {}, `${hint}/scaled`);
  return { y: { ...x, name: b.op('Add', [scaled, constant(c.offset, 'offset')], {}, `${hint}/rescaled`) }, scale };
}

function channels(ctx: ChannelContext<RescalingConfig>): Int32Array {
  const input = ctx.input();
  if (perChannel(ctx.layer.config)) ctx.block(input, `layer "${ctx.layer.name}" holds per-channel scale/offset values in its config`);
  return input;
}

interface RescalingSaved {
  /** The scale constant, in the layout the forward ran in. */
  scale: string;
}

const rescalingRule: LayerRule<RescalingSaved, RescalingConfig> = {
  unsupported: () => undefined,
  forward({ b, layer, inputs }) {
    const { y, scale } = affineOnnx(b, layer.config, inputs[0]!, layer.name);
    return { pre: { name: y.name, layout: y.layout, shape: inputs[0]!.shape }, activation: { kind: 'linear' }, saved: { scale } };
  },
  backward({ b, layer, inputs, forward, dPre, needInput }) {
    if (!needInput[0]) return { inputs: [undefined], weights: {} };
    const dx = b.op('Mul', [dPre, forward.saved.scale], {}, `${layer.name}/grad/input`);
    return { inputs: [{ name: dx, layout: forward.pre.layout, shape: inputs[0]!.shape }], weights: {} };
  },
};

export const rescaling = defineLayer<RescalingConfig>({
  className: 'Rescaling',
  family: 'preprocessing',
  arity: 'one',
  fields: { scale: scaleValue('scale'), offset: scaleValue('offset') },
  weights: noWeights,
  outputShape,
  channels,
  onnx: ({ b, layer, inputs }) => affineOnnx(b, layer.config, inputs[0]!, layer.name).y,
  ort: rescalingRule,
  tflite: {
    convert(ctx) {
      const { scale, shift } = rescalingAffine(ctx.layer.config, ctx.inputs[0]!.shape.at(-1)!);
      return channelAffineTflite(ctx, scale, shift);
    },
  },
});

export const preprocessingLayers = { Rescaling: rescaling };
