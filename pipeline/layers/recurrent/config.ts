/**
 * Typed configs of the recurrent layers, with tfjs-layers 4.22's reading of each key (recurrent.ts, wrappers.ts):
 *
 * - `activation`: tanh when absent. A JSON null is linear for LSTM and GRU (`args.activation === undefined ?
 *   'tanh' : …`, getActivation(null) is linear) but tanh for SimpleRNN (`args.activation == null`).
 * - `recurrent_activation` (LSTM, GRU): **hard_sigmoid** when absent — tfjs's default, not Keras-Python's sigmoid
 *   (Keras 2.3+) — and linear when null. Keras files always write it; the Keras reader keeps what they say.
 * - `use_bias` (default true), `return_sequences`, `go_backwards` (default false) as tfjs reads them.
 * - `dropout`, `recurrent_dropout`: training-time masks only; inference ignores them (tfjs clamps them to [0, 1]).
 * - `unroll`, `implementation`, `unit_forget_bias`: no effect on what the layer computes (tfjs ignores unroll;
 *   implementation 1 and 2 are the same function; unit_forget_bias only initialises the bias).
 * - Refused as LAYER_UNSUPPORTED: `return_state` (a layer with several outputs), `stateful` (state carried between
 *   batches), GRU `reset_after` true (tfjs throws on it), Keras-Python's `time_major` true (tfjs reads
 *   [batch, time, features] only and would compute something else).
 * - Masking: tfjs RNNs honour a mask from a Masking or Embedding(mask_zero) layer, but neither class is in the
 *   registry, so no mask can reach a recurrent layer slimnet handles.
 * - Bidirectional: `layer` is a nested {class_name, config} of SimpleRNN, LSTM or GRU; `merge_mode` concat (the
 *   default), sum, mul or ave; null (two outputs) is refused. tfjs builds the backward layer itself from the same
 *   config with go_backwards flipped, named `backward_<name>` (and the forward one `forward_<name>`).
 */
import { isSlimnetError, SlimnetError } from '../../errors.ts';
import { activationName, type ActivationName } from '../activations/names.ts';
import { badValue, bool, custom, int, num, oneOf, type Field, type FieldContext, type Fields } from '../config.ts';
import { parseWith } from '../layer.ts';
import type { KerasConfig, KerasValue, LayerClass, LayerConfig } from '../types.ts';

export type RnnClassName = 'SimpleRNN' | 'LSTM' | 'GRU';

/** What every recurrent layer's typed config holds. */
export interface RnnConfig extends LayerConfig {
  units: number;
  activation: ActivationName;
  useBias: boolean;
  returnSequences: boolean;
  goBackwards: boolean;
  dropout: number;
  recurrentDropout: number;
}

/** LSTM and GRU: gated cells. */
export interface GatedConfig extends RnnConfig {
  /** The gates' activation. */
  recurrentActivation: ActivationName;
}

export type SimpleRNNConfig = RnnConfig;
export type LSTMConfig = GatedConfig;
export type GRUConfig = GatedConfig;

export type MergeMode = 'concat' | 'sum' | 'mul' | 'ave';

/** The wrapped layer of a Bidirectional: its class, its Keras config (written back as is) and its typed reading. */
export interface WrappedRnn {
  className: RnnClassName;
  keras: KerasConfig;
  config: RnnConfig;
}

export interface BidirectionalConfig extends LayerConfig {
  mergeMode: MergeMode;
  layer: WrappedRnn;
}

/** An activation key: `absent` when the key is missing, `nullAs` when it holds null (see the header). */
function activationKey(key: string, absent: ActivationName, nullAs: ActivationName): Field<ActivationName> {
  return custom(key, (v, ctx) => {
    if (v === undefined) return absent;
    if (v === null) return nullAs;
    const name = typeof v === 'string' ? activationName(v) : undefined;
    if (!name) throw badValue(ctx, 'the name of an activation tfjs knows (tanh, sigmoid, hard_sigmoid, relu, ...)', v);
    return name;
  }, (v) => v);
}

/** A rate tfjs clamps to [0, 1]; only training uses it. */
const rate = (key: string) => num(key, { default: 0 });

const common = {
  units: int('units'),
  useBias: bool('use_bias', true),
  returnSequences: bool('return_sequences', false),
  goBackwards: bool('go_backwards', false),
  dropout: rate('dropout'),
  recurrentDropout: rate('recurrent_dropout'),
};

export const simpleRnnFields: Fields<Omit<SimpleRNNConfig, keyof LayerConfig>> = {
  ...common,
  activation: activationKey('activation', 'tanh', 'tanh'),
};

export const gatedFields: Fields<Omit<GatedConfig, keyof LayerConfig>> = {
  ...common,
  activation: activationKey('activation', 'tanh', 'linear'),
  recurrentActivation: activationKey('recurrent_activation', 'hard_sigmoid', 'linear'),
};

type Fail = Parameters<NonNullable<LayerClass['check']>>[1];

/** Options tfjs cannot run as Keras means them; `gru`: reset_after must be false. */
export function checkRecurrent(gru: boolean) {
  return (_c: RnnConfig, fail: Fail, keras: KerasConfig): void => {
    const flag = (key: string, why: string) => {
      const v = keras[key];
      if (v === undefined || v === null || v === false) return;
      if (v !== true) fail(key, `should be true or false, got ${JSON.stringify(v)}`);
      fail(key, `slimnet does not support ${key} true: ${why}`, true);
    };
    flag('return_state', 'the layer would have several outputs');
    flag('stateful', 'its state would carry over between batches');
    flag('time_major', 'tfjs reads [batch, time, features] only');
    if (gru) flag('reset_after', 'tfjs implements the GRU with reset_after false only (the Keras 1 formulation)');
  };
}

const WRAPPABLE: readonly RnnClassName[] = ['SimpleRNN', 'LSTM', 'GRU'];

const isObject = (v: unknown): v is KerasConfig => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The `layer` key of a Bidirectional: {class_name, config} of a SimpleRNN, LSTM or GRU, parsed by that class's own
 * record (`classes`); its errors name the Bidirectional and the nested key.
 */
export function wrappedLayer(classes: () => Record<RnnClassName, LayerClass<any>>): Field<WrappedRnn> {
  return custom<WrappedRnn>('layer', (v: KerasValue | undefined, ctx: FieldContext) => {
    const className = isObject(v) ? (v.class_name ?? v.className) : undefined;
    if (!isObject(v) || typeof className !== 'string' || !isObject(v.config)) {
      throw badValue(ctx, 'the wrapped layer as {class_name, config}', v);
    }
    if (!(WRAPPABLE as readonly string[]).includes(className)) {
      throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, `config.layer: slimnet does not support a Bidirectional ${className}`, `wrap a ${WRAPPABLE.join(', ')} layer`);
    }
    const keras = v.config;
    const name = typeof keras.name === 'string' ? keras.name : 'rnn';
    try {
      const config = parseWith(classes()[className as RnnClassName], className, keras, name) as RnnConfig;
      return { className: className as RnnClassName, keras, config };
    } catch (e) {
      if (!isSlimnetError(e)) throw e;
      throw new SlimnetError(e.code, ctx.where, e.message.replace(/^config\./, 'config.layer.config.'), e.hint);
    }
  }, (w) => ({ class_name: w.className, config: w.keras }));
}

export const mergeMode = custom<MergeMode>('merge_mode', (v, ctx) => {
  if (v === null) throw new SlimnetError('LAYER_UNSUPPORTED', ctx.where, 'config.merge_mode: slimnet does not support merge_mode null (two outputs)', 'use concat, sum, mul or ave');
  return oneOf<MergeMode>('merge_mode', ['concat', 'sum', 'mul', 'ave'], 'concat').read(v, ctx);
}, (v) => v);
