/**
 * MaxPooling2D / AveragePooling2D as ONNX MaxPool / AveragePool (NCHW), global pools as reductions over
 * the spatial axes of whatever layout the input is in (no transpose needed).
 */
import type { LayerIR } from '../../ir.ts';
import { onnxAxis, type Attr } from '../builder.ts';
import {
  boolOpt, pairOpt, requireChannelsLast, stringOpt, unsupportedOption, type LayerConverter,
} from './common.ts';
import { windowPads } from './padding.ts';

function windowPool(opType: 'MaxPool' | 'AveragePool'): LayerConverter {
  return ({ b, layer, inputs }) => {
    requireChannelsLast(layer);
    const x = b.inLayout(inputs[0], 'nchw');
    const kernel = pairOpt(layer, 'pool_size', [2, 2]);
    const strides = pairOpt(layer, 'strides', kernel); // Keras: strides default to the pool size
    const pads = windowPads(layer, stringOpt(layer, 'padding', 'valid'), x.shape, kernel, strides);
    const attrs = { kernel_shape: { ints: kernel }, strides: { ints: strides }, pads: { ints: pads } };
    // TF's 'same' average pooling divides by the number of real (unpadded) inputs in the window.
    const extra: Record<string, Attr> = opType === 'AveragePool' ? { count_include_pad: { i: 0 } } : {};
    return { name: b.op(opType, [x.name], { ...attrs, ...extra }, `${layer.name}/${opType}`), layout: 'nchw' };
  };
}

function rejectKeepdims(layer: LayerIR): void {
  // tfjs's global pools have no keepdims; a config asking for it would run differently in tfjs than asked.
  if (boolOpt(layer, 'keepdims', false)) {
    throw unsupportedOption(layer, 'keepdims: true', 'tfjs ignores keepdims; remove it and add a Reshape');
  }
}

function globalPool(opType: 'ReduceMean' | 'ReduceMax'): LayerConverter {
  return ({ b, layer, inputs }) => {
    requireChannelsLast(layer);
    rejectKeepdims(layer);
    const x = inputs[0];
    const axes = [onnxAxis(1, 4, x.layout), onnxAxis(2, 4, x.layout)];
    const y = b.op(opType, [x.name], { axes: { ints: axes }, keepdims: { i: 0 } }, `${layer.name}/${opType}`);
    return { name: y, layout: 'keras' };
  };
}

/** 1-D global pools work on [N, steps, C], always in Keras layout (only rank-4 tensors are ever NCHW). */
function globalPool1d(opType: 'ReduceMean' | 'ReduceMax'): LayerConverter {
  return ({ b, layer, inputs }) => {
    requireChannelsLast(layer);
    rejectKeepdims(layer);
    const y = b.op(opType, [inputs[0].name], { axes: { ints: [1] }, keepdims: { i: 0 } }, `${layer.name}/${opType}`);
    return { name: y, layout: 'keras' };
  };
}

export const poolingConverters: Record<string, LayerConverter> = {
  MaxPooling2D: windowPool('MaxPool'),
  AveragePooling2D: windowPool('AveragePool'),
  GlobalAveragePooling2D: globalPool('ReduceMean'),
  GlobalMaxPooling2D: globalPool('ReduceMax'),
  GlobalAveragePooling1D: globalPool1d('ReduceMean'),
  GlobalMaxPooling1D: globalPool1d('ReduceMax'),
};
