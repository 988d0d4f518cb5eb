import * as tf from '@tensorflow/tfjs';

/**
 * wasm's BatchMatMul and _FusedMatMul take the fast XNNPACK path only for untransposed operands; with
 * transposeA/transposeB they fall back to a loop ~10x slower (measured: 5408x64 · 64x128 takes 43 ms transposed,
 * 4.4 ms pre-transposed). Every Dense/MatMul gradient asks for a transposed operand, so this wrapper transposes
 * explicitly with the native Transpose kernel and calls the native matmul untransposed.
 */
export function untransposedMatMul(native: tf.KernelConfig): tf.KernelConfig {
  const transpose = tf.getKernel('Transpose', native.backendName);
  if (!transpose) throw new Error(`backend ${native.backendName} has no Transpose kernel`);
  return {
    ...native,
    kernelFunc: (args) => {
      const attrs = (args.attrs ?? {}) as { transposeA?: boolean; transposeB?: boolean };
      if (!attrs.transposeA && !attrs.transposeB) return native.kernelFunc(args);
      const backend = args.backend as tf.KernelBackend;
      const inputs = { ...args.inputs };
      const temporaries: tf.TensorInfo[] = [];
      for (const [name, flag] of [['a', attrs.transposeA], ['b', attrs.transposeB]] as const) {
        const operand = inputs[name];
        if (!flag || !operand) continue;
        const rank = operand.shape.length;
        const perm = [...Array(rank - 2).keys(), rank - 1, rank - 2];
        const swapped = transpose.kernelFunc({ inputs: { x: operand }, backend, attrs: { perm } }) as tf.TensorInfo;
        temporaries.push(swapped);
        inputs[name] = swapped;
      }
      const out = native.kernelFunc({ ...args, inputs, attrs: { ...args.attrs, transposeA: false, transposeB: false } });
      for (const t of temporaries) backend.disposeData(t.dataId);
      return out;
    },
  };
}
