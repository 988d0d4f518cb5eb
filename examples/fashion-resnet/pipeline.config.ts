// The residual-net example: a 78.7k-parameter ResNet-style classifier on Fashion-MNIST (Debian's
// dataset-fashion-mnist). `npx slimnet compress --config examples/fashion-resnet/pipeline.config.ts`
import { defineConfig } from '../../pipeline/index.ts';

export default defineConfig({
  name: 'fashion-resnet',
  model: 'model/model.json',
  data: { source: 'idx', dir: '/usr/share/datasets/fashion-mnist' },
  validationFraction: 0.1,
  seed: 42,
  budget: { maxAccuracyDrop: 0.01 },
  stages: [
    // Default prune options: sensitivity search, reconstruction, progressive steps with short fine-tunes, roundTo 4.
    { name: 'prune', onBudgetMiss: 'fail' },
    { name: 'export', options: { formats: ['tfjs', 'onnx'] }, onBudgetMiss: 'fail' },
  ],
});
