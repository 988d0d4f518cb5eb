/**
 * Images for the bench's 224×224 models: Fashion-MNIST (Debian's `dataset-fashion-mnist`, IDX files) upscaled
 * bilinearly to size×size and repeated over 3 channels. Real photographs at that size are not in the offline
 * registries in a format slimnet reads; these are real images with real structure, which is what calibration,
 * reconstruction and fine-tuning need.
 */
import { existsSync } from 'node:fs';
import { loadIdxFolder } from '../pipeline/data/idx.ts';
import { createRng, permutation } from '../pipeline/random.ts';

export const FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export function fashionMnistAvailable(dir = FASHION_MNIST_DIR): boolean {
  return existsSync(dir);
}

/** Bilinear resize of one single-channel side×side image to size×size×channels (align-corners off, as tf.image). */
export function resizeGray(src: Float32Array, side: number, size: number, channels: number, out: Float32Array, offset: number): void {
  const scale = side / size;
  for (let r = 0; r < size; r++) {
    const sy = Math.max(0, (r + 0.5) * scale - 0.5);
    const y0 = Math.min(side - 1, Math.floor(sy));
    const y1 = Math.min(side - 1, y0 + 1);
    const fy = sy - y0;
    for (let c = 0; c < size; c++) {
      const sx = Math.max(0, (c + 0.5) * scale - 0.5);
      const x0 = Math.min(side - 1, Math.floor(sx));
      const x1 = Math.min(side - 1, x0 + 1);
      const fx = sx - x0;
      const top = src[y0 * side + x0]! * (1 - fx) + src[y0 * side + x1]! * fx;
      const bottom = src[y1 * side + x0]! * (1 - fx) + src[y1 * side + x1]! * fx;
      const v = top * (1 - fy) + bottom * fy;
      const at = offset + (r * size + c) * channels;
      for (let k = 0; k < channels; k++) out[at + k] = v;
    }
  }
}

export interface ImageSet {
  x: Float32Array;
  /** Fashion-MNIST's own labels (the bench may replace them by a model's outputs). */
  y: Int32Array;
  count: number;
  sampleShape: [number, number, number];
}

/**
 * `count` images of the chosen split, resized to size×size×3: positions [offset, offset + count) of a seeded
 * permutation, so calls with the same seed and disjoint ranges never share an image.
 */
export async function fashionMnistImages(split: 'train' | 'test', count: number, size: number, seed: number, offset = 0, dir = FASHION_MNIST_DIR): Promise<ImageSet> {
  const sets = await loadIdxFolder(dir);
  const set = sets[split];
  const side = set.sampleShape[0]!;
  const order = permutation(set.count, createRng(seed)).slice(offset, offset + count);
  const per = size * size * 3;
  const x = new Float32Array(order.length * per);
  const y = new Int32Array(order.length);
  order.forEach((i, k) => {
    resizeGray(set.x.subarray(i * side * side, (i + 1) * side * side), side, size, 3, x, k * per);
    y[k] = set.y[i]!;
  });
  return { x, y, count: order.length, sampleShape: [size, size, 3] };
}
