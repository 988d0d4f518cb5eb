import * as tf from '@tensorflow/tfjs';
import { conv2dBackpropFilterKernel } from './conv-backprop.ts';
import { conv2dBackpropInputKernel } from './conv-backprop-input.ts';
import { depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel } from './depthwise-backprop.ts';
import { untransposedMatMul } from './matmul-transpose.ts';
import { maxPoolGradKernel } from './pool-backprop.ts';
import { unsortedSegmentSumKernel } from './segment-sum.ts';

/**
 * Gradient kernels the tfjs wasm backend (4.22) lacks, found by training small models of every supported layer
 * kind on wasm: Conv2D and SeparableConv2D need Conv2DBackpropFilter, DepthwiseConv2D needs both depthwise
 * backprop kernels. AvgPoolGrad, FusedBatchNorm and the activations' gradients are native to wasm or composed by
 * tfjs-core from ops wasm has, and agree with the cpu backend. Embedding (a gather) needs UnsortedSegmentSum.
 */
const MISSING = [conv2dBackpropFilterKernel, depthwiseBackpropFilterKernel, depthwiseBackpropInputKernel, unsortedSegmentSumKernel];

/**
 * Kernels wasm ships but gets wrong or runs slowly: ours replace them. MaxPoolGrad mishandles ties and 'same'
 * padding (pool-backprop.ts); Conv2DBackpropInput is ~10x slower than a convolution (conv-backprop-input.ts).
 */
const REPLACED = [maxPoolGradKernel, conv2dBackpropInputKernel];

/** Kernels wasm ships that are slow on the operand layouts gradients use (see matmul-transpose.ts): wrapped. */
const WRAPPED: Array<[string, (native: tf.KernelConfig) => tf.KernelConfig]> = [
  ['BatchMatMul', untransposedMatMul],
  ['_FusedMatMul', untransposedMatMul],
];

let registered = false;

/** Registers the missing, replacement and wrapped kernels for 'wasm'. Idempotent; returns the names it touched. */
export function registerWasmGradientKernels(): string[] {
  if (registered) return [];
  registered = true;
  const present = new Set(tf.getKernelsForBackend('wasm').map((k) => k.kernelName));
  const touched: string[] = [];
  for (const make of MISSING) {
    const kernel = make('wasm');
    if (present.has(kernel.kernelName)) continue; // a newer tfjs may ship it
    tf.registerKernel(kernel);
    touched.push(kernel.kernelName);
  }
  for (const make of REPLACED) {
    const kernel = make('wasm');
    // Unregister first: registering over an existing kernel logs a warning.
    if (present.has(kernel.kernelName)) tf.unregisterKernel(kernel.kernelName, 'wasm');
    tf.registerKernel(kernel);
    touched.push(kernel.kernelName);
  }
  for (const [name, wrap] of WRAPPED) {
    const native = tf.getKernel(name, 'wasm');
    if (!native) continue;
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(wrap(native));
    touched.push(name);
  }
  return touched;
}
