/**
 * What every layer that makes its own output channels through one kernel shares (Dense, Conv1D, Conv2D,
 * Conv2DTranspose): `activation(x · kernel + bias)` per output channel. The kernel's `inAxis` follows the input's
 * channels and `outAxis` the layer's own; the bias follows them too. From that: the pruning channel rule, resizing,
 * the quantisation axis, BN folding and the final activation.
 */
import type { LayerIR } from '../ir.ts';
import type { ActivationName } from './activations/names.ts';
import { rewrite } from './layer.ts';
import type { ChannelContext, LayerClass, LayerConfig } from './types.ts';

export interface ProducerConfig extends LayerConfig {
  activation: ActivationName;
  useBias: boolean;
}

/** Fresh output atoms (a softmax across them blocks them), the kernel bindings `bind` makes, then the optional bias. */
export function producerChannels<C extends ProducerConfig>(ctx: ChannelContext<C>, outChannels: number, bind: (input: Int32Array, out: Int32Array) => void): Int32Array {
  const input = ctx.input();
  const act = ctx.layer.config.activation;
  const softmax = act === 'softmax' || act === 'log_softmax' ? `layer "${ctx.layer.name}" applies softmax across its units` : undefined;
  const out = ctx.fresh(outChannels, { producer: true, blocked: softmax });
  bind(input, out);
  ctx.bind('bias', 0, out, 'out', true);
  return out;
}

/** The hooks of a one-kernel producer whose channel count is config field `field`. */
export function kernelProducer<C extends ProducerConfig>(self: () => LayerClass<C>, field: 'filters' | 'units', inAxis: number, outAxis: number) {
  const count = (c: C) => (c as unknown as Record<string, number>)[field]!;
  return {
    channels: (ctx: ChannelContext<C>) => producerChannels(ctx, count(ctx.layer.config), (input, out) => {
      ctx.bind('kernel', inAxis, input, 'in');
      ctx.bind('kernel', outAxis, out, 'out');
    }),
    withOutputChannels: (layer: LayerIR<C>, n: number) => rewrite(self(), layer, { [field]: n } as Partial<C>),
    quantizationAxis: (_l: LayerIR<C>, w: { name: string; shape: number[] }) => (w.name === 'kernel' ? { shape: w.shape, axis: outAxis } : undefined),
    linearKernel: 'kernel',
    finalActivation: (c: C) => ({ name: c.activation, fused: true }),
  };
}
