// Compresses the bundled example (examples/mnist-cnn) — `npm run compress` runs this.
// In your own project: `import { defineConfig } from 'slimnet'`.
import { defineConfig } from './pipeline/index.ts';

export default defineConfig({
  name: 'mnist-cnn',
  model: 'examples/mnist-cnn/model/model.json',
  data: { source: 'mnist-package' },
  validationFraction: 0.1,
  seed: 42,
  // Shared by the three stages that change accuracy: quantize claims a tenth (its int8 kernels cost this model no
  // measurable accuracy), prune and separable split the rest equally. See README, Budget shares.
  budget: { maxAccuracyDrop: 0.01 },
  stages: [
    // Structured channel pruning with search, least-squares reconstruction and distillation fine-tuning. Channel
    // counts stay multiples of 8, onnxruntime's NCHWc block on AVX2: a count off the block (12 filters) keeps the
    // pooling out of the blocked layout and reorders the larger tensor before it (see README, latency).
    { name: 'prune', options: { criterion: 'l1', roundTo: 8 }, onBudgetMiss: 'fail' },
    // The pruned Dense (99% of the weights left) becomes a low-rank pair (SVD, refit, fine-tuning); the convolution
    // has one input channel, where a depthwise pair saves little, and stays. Ranks are multiples of 16, the column
    // block of onnxruntime's sgemm on AVX2 (a rank of 24 runs as slowly as 32). See README, Stages.
    { name: 'separable', options: { roundTo: 16 }, onBudgetMiss: 'fail' },
    // Per-channel int8 kernels (biases float32) into every export; the TF.js and ONNX files are measured as shipped.
    // ONNX ships the int8 weights as Cast+Mul (the default), which onnxruntime folds at load: float speed, and the
    // same bytes on every run ('auto' would choose by measured speed).
    { name: 'quantize', options: { weights: 'int8', granularity: 'per-channel' }, budgetShare: 0.1, onBudgetMiss: 'fail' },
    // TFLite is checked in TensorFlow's TFLite runtime (optional dependency tfjs-tflite-node); on a machine where it
    // could not be installed the file is still written and the report says "written, not verified".
    { name: 'export', options: { formats: ['tfjs', 'onnx', 'tflite', 'tflite-int8'], allowUnverified: true }, onBudgetMiss: 'fail' },
  ],
});
