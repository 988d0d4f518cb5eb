/**
 * The export formats' ids, as a plain list apart from the registry (index.ts), so that parsing flags and configs
 * loads no format code (tfjs, onnxruntime): a run replayed from the cache never needs it. index.ts checks the two agree.
 */
export const FORMAT_IDS = ['tfjs', 'onnx', 'tflite', 'tflite-int8'] as [string, ...string[]];
