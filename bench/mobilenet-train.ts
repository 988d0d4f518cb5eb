/**
 * Trains the bench's MobileNetV2 on its task, within minutes on a shared 2-core machine. Whole-network training on
 * onnxruntime's training-step graphs runs ~3.7 samples/s at 96×96 (measured under load 7–8), so ~0.7/s at
 * 224×224: a few minutes would be a few hundred samples, too few to train 2.2M weights. So, as transfer learning
 * does with a frozen backbone, the network's early part (the stem and blocks 0 … fromBlock−1: ~25% of the weights,
 * most of the MACs, kept with their seeded convolutions and BatchNormalization statistics calibrated on images)
 * computes features once per image, and the top — the blocks from `fromBlock` on, Conv_1 (1280 channels) and the
 * classifier, ~75% of the weights — is trained on them with cross-entropy (Adam, seeded): 6 samples/s there.
 * BatchNormalization trains with batch statistics and a momentum of 0.9, so its running statistics follow the
 * trained weights within the run's few dozen steps; the full network keeps Keras' 0.999 in its config.
 */
import { openActivationReader } from '../pipeline/calibrate.ts';
import type { LabelledSet } from '../pipeline/data/types.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { irFromTfjsModel } from '../pipeline/io/tfjs-model.ts';
import { ortFineTuneWith } from '../pipeline/train/ort/ort-fine-tune.ts';
import { concatTyped } from '../pipeline/typed-arrays.ts';
import type { ImageSet } from './images.ts';
import { buildMobileNetV2, type MobileNetV2Options } from './mobilenet-v2.ts';

export interface TopTraining {
  /** First trained block: its input is the frozen part's output. */
  fromBlock: number;
  /** Training images (streamed through the frozen part in chunks, then kept as features only). */
  images: number;
  epochs: number;
  batchSize: number;
  learningRate: number;
}

/** Images `count` from `offset`, in chunks (a whole set of 224×224×3 floats would take GBs). */
export type ImageChunks = (offset: number, count: number) => Promise<ImageSet>;

/**
 * Trains the top of `full` (a calibrated MobileNetV2 IR) in place of its seeded weights: returns the IR with the
 * trained top's weights (and running statistics) and the training's final loss.
 */
export async function trainMobileNetTop(full: ModelIR, arch: Required<Pick<MobileNetV2Options, 'alpha' | 'size' | 'classes' | 'seed'>>, plan: TopTraining, images: ImageChunks, log: (line: string) => void): Promise<{ ir: ModelIR; loss: number; seconds: number }> {
  const topModel = buildMobileNetV2({ ...arch, fromBlock: plan.fromBlock, bnMomentum: 0.9 });
  const top = await irFromTfjsModel(topModel);
  const featureShape = topModel.inputs[0]!.shape.slice(1) as number[];
  topModel.dispose();
  copyWeights(full, top);
  // The frozen part ends where the first trained layer reads its input in the full network.
  const firstTrained = top.layers.find((t) => t.inputs.includes(top.inputs[0]!))!.name;
  const featureLayer = full.layers.find((l) => l.name === firstTrained)!.inputs[0]!;
  const train = await frozenFeatures(full, featureLayer, featureShape, arch.classes, plan.images, images, log);
  const started = performance.now();
  const result = await ortFineTuneWith(top, {
    train, temperature: 1, alpha: 0, epochs: plan.epochs, batchSize: plan.batchSize, learningRate: plan.learningRate, optimizer: 'adam', batchNorm: 'batch', seed: arch.seed,
    onProgress: (p) => log(`mobilenet fixture: training the top: ${p.samples}/${plan.images * plan.epochs} samples, loss ${p.loss.toFixed(3)}, ${p.seconds.toFixed(0)} s`),
  }, { threads: 2 });
  const trained = structuredClone(full);
  copyWeights(result.ir, trained);
  return { ir: trained, loss: result.finalLoss, seconds: (performance.now() - started) / 1000 };
}

/** The frozen part's output for `count` images, 64 at a time through onnxruntime, as a training set for the top. */
async function frozenFeatures(full: ModelIR, layer: string, sampleShape: number[], numClasses: number, count: number, images: ImageChunks, log: (line: string) => void): Promise<LabelledSet> {
  const reader = await openActivationReader(full, [layer]);
  const chunks: Float32Array[] = [];
  const labels: number[] = [];
  const started = performance.now();
  try {
    for (let start = 0; start < count; start += 64) {
      const set = await images(start, Math.min(64, count - start));
      const per = set.x.length / set.count;
      for (let i = 0; i < set.count; i += 16) {
        const n = Math.min(16, set.count - i);
        chunks.push((await reader.read(set.x.subarray(i * per, (i + n) * per), n, set.sampleShape))[layer]!);
      }
      labels.push(...set.y);
      log(`mobilenet fixture: features of the frozen part (${layer}): ${labels.length}/${count} images, ${((performance.now() - started) / 1000).toFixed(0)} s`);
    }
  } finally {
    reader.dispose();
  }
  return { x: concatTyped(chunks, Float32Array), y: Int32Array.from(labels), count: labels.length, sampleShape, numClasses };
}

/** Copies every weight `to` has from the layer of the same name in `from` (values only; shapes must match). */
function copyWeights(from: ModelIR, to: ModelIR): void {
  const byName = new Map(from.layers.map((l) => [l.name, l]));
  for (const layer of to.layers) {
    const source = byName.get(layer.name);
    if (!source) continue;
    for (const w of layer.weights) {
      const v = source.weights.find((s) => s.name === w.name);
      if (!v || v.values.length !== w.values.length) throw new Error(`mobilenet fixture: ${layer.name}/${w.name} does not match between the network and its top`);
      w.values = v.values.slice();
    }
  }
}
