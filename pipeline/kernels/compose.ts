import * as tf from '@tensorflow/tfjs';

/**
 * Runs a kernel written with ordinary tf ops on the backend that called it.
 *
 * The engine hands a kernel TensorInfos it owns. We wrap them as Tensors, taking one backend reference each so
 * disposing the wrapper cannot free the caller's data; `body` runs inside a tidy so every intermediate is freed;
 * the result's data is handed back as a TensorInfo carrying one extra reference, which the engine's output tensor
 * then owns (the same hand-over tfjs's own Reshape kernels use). Ops run here are not recorded on the gradient tape:
 * the engine only records at kernel depth 0.
 */
export function runComposed(
  backendArg: {},
  inputs: tf.NamedTensorInfoMap,
  names: string[],
  body: (...tensors: tf.Tensor[]) => tf.Tensor,
): tf.TensorInfo {
  const backend = backendArg as tf.KernelBackend;
  const engine = tf.engine();
  const infos = names.map((name) => {
    const info = inputs[name];
    if (!info) throw new Error(`kernel input "${name}" is missing`);
    return info;
  });
  const out = tf.tidy(() => {
    const wrapped = infos.map((info) => {
      backend.incRef(info.dataId);
      return engine.makeTensorFromTensorInfo(info, backend);
    });
    return body(...wrapped);
  });
  backend.incRef(out.dataId);
  const result: tf.TensorInfo = { dataId: out.dataId, shape: out.shape.slice(), dtype: out.dtype };
  out.dispose();
  return result;
}
