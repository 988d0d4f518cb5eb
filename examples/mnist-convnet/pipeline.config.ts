// The multi-convolution example: `npx slimnet compress --config examples/mnist-convnet/pipeline.config.ts`.
// Depthwise-separable replacement of its three 3×3 convolutions (and low-rank replacement of its dense head where
// that pays), then the export checked in TF.js and onnxruntime. See examples/mnist-convnet/README.md.
import { defineConfig } from '../../pipeline/index.ts';

export default defineConfig({
  name: 'mnist-convnet',
  model: 'model/model.json',
  data: { source: 'mnist-package' },
  // The split examples/mnist-convnet/train.ts carved: validation was never trained on.
  validationFraction: 0.1,
  seed: 42,
  budget: { maxAccuracyDrop: 0.01 },
  // The repository's git-ignored artifacts folder, as for the bundled example.
  out: '../../artifacts/mnist-convnet',
  cacheDir: '../../artifacts/.cache',
  stages: [
    { name: 'separable', onBudgetMiss: 'fail' },
    { name: 'export', options: { formats: ['tfjs', 'onnx'] }, onBudgetMiss: 'fail' },
  ],
});
