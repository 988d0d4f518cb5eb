import * as tf from '@tensorflow/tfjs';
import { runComposed } from './compose.ts';

/**
 * UnsortedSegmentSum, the gradient of a gather (tfjs's Embedding trains through it): out[segmentIds[i], ...] += x[i, ...].
 * wasm (4.22) has no such kernel. A one-hot matmul would hold rows × segments floats (a 20,000-word vocabulary at
 * batch 64 × 100 steps: 512 MB), so the rows are summed in one pass instead; ids outside [0, numSegments) are
 * dropped, as TF's kernel drops them.
 */
export function unsortedSegmentSum(x: tf.Tensor, segmentIds: tf.Tensor, numSegments: number): tf.Tensor {
  const rows = segmentIds.size;
  const width = rows === 0 ? 0 : x.size / rows;
  const values = x.dataSync() as Float32Array;
  const ids = segmentIds.dataSync();
  const out = new Float32Array(numSegments * width);
  for (let i = 0; i < rows; i++) {
    const s = ids[i]!;
    if (!(s >= 0 && s < numSegments)) continue;
    const from = i * width;
    const to = s * width;
    for (let j = 0; j < width; j++) out[to + j]! += values[from + j]!;
  }
  return tf.tensor(out, [numSegments, ...x.shape.slice(segmentIds.shape.length)], 'float32');
}

export const unsortedSegmentSumKernel = (backendName: string): tf.KernelConfig => ({
  kernelName: 'UnsortedSegmentSum',
  backendName,
  kernelFunc: ({ inputs, backend, attrs }) => {
    const { numSegments } = attrs as unknown as { numSegments: number };
    return runComposed(backend, inputs, ['x', 'segmentIds'], (x, ids) => unsortedSegmentSum(x!, ids!, numSegments));
  },
});
