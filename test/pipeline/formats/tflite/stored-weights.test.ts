/**
 * The float32 TFLite export keeps weight storage: int8 kernels (per channel on any axis the layout change keeps,
 * or per tensor with zero points) as INT8 constants + DEQUANTIZE, float16 as FLOAT16 + DEQUANTIZE — each computing
 * exactly the IR's values in the real runtime, and the file as small as the storage says. tfjs uint8/uint16 affine
 * has no exact TFLite form and goes out as float32.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../../pipeline/engine.ts';
import { BuiltinOperator, TensorType } from '../../../../pipeline/formats/tflite/model-spec.ts';
import { readTflite } from '../../../../pipeline/formats/tflite/read.ts';
import type { ModelIR } from '../../../../pipeline/ir.ts';
import { quantizeWeight, type StorageSpec } from '../../../../pipeline/weight-storage.ts';
import { depthwiseNet, exampleCnn, functionalResidual } from '../../../fixtures/models.ts';
import { needsValidator } from '../../../helpers/validators.ts';
import { exportAndCompare, tempDir } from './helpers.ts';

before(() => initEngine('cpu'));

/** Every kernel stored as `spec(weight)`; biases and BN statistics stay float32 (as the quantize stage does). */
const storeKernels = (spec: (name: string, shape: number[]) => StorageSpec) => (ir: ModelIR): ModelIR => ({
  ...ir,
  layers: ir.layers.map((l) => ({ ...l, weights: l.weights.map((w) => (/kernel$/.test(w.name) ? quantizeWeight(w, spec(w.name, w.shape)) : w)) })),
});

const SPECS: Record<string, (name: string, shape: number[]) => StorageSpec> = {
  // Output channels; for the depthwise kernel its input channels (axis 2), which TFLite's axis 3 repeats m times.
  'per-channel int8': (name, shape) => ({ dtype: 'int8', symmetric: true, axis: name === 'depthwise_kernel' ? 2 : shape.length - 1 }),
  'per-tensor int8 with a zero point': () => ({ dtype: 'int8', symmetric: false }),
  float16: () => ({ dtype: 'float16' }),
  'tfjs uint8': () => ({ dtype: 'uint8' }),
};

/** Bytes of every constant the file carries (weights, biases, shapes): what storage shrinks, without the graph around it. */
const constantBytes = (m: ReturnType<typeof readTflite>) => m.graph.tensors.reduce((n, x) => n + (x.data?.length ?? 0), 0);

const MODELS = { "the example's CNN": exampleCnn, 'a residual net with BN': functionalResidual, 'a depthwise net': depthwiseNet };

for (const [what, make] of Object.entries(MODELS)) {
  test(`float32 TFLite of ${what} keeps each weight storage and computes the IR's values`, async (t) => {
    if (!needsValidator(t, 'tflite-runtime')) return;
    const dir = tempDir();
    const plain = await exportAndCompare(make(), dir, { batch: 8 });
    for (const [label, spec] of Object.entries(SPECS)) {
      const { bytes, report } = await exportAndCompare(make(), dir, { transform: storeKernels(spec), label: label.replace(/\W+/g, '-'), batch: 8 });
      assert.equal(report.top1Agreement, 1, `${label}: ${JSON.stringify(report)}`);
      assert.ok(report.maxAbsDiff <= 1e-4, `${label}: max |Δ| ${report.maxAbsDiff}`);
      const m = readTflite(bytes);
      const types = m.graph.tensors.filter((x) => x.data).map((x) => x.type);
      const dequantizes = m.graph.operators.filter((o) => o.op === BuiltinOperator.DEQUANTIZE).length;
      const ratio = constantBytes(m) / constantBytes(readTflite(plain.bytes));
      t.diagnostic(`${label}: ${bytes.length} bytes (constants ${ratio.toFixed(2)}× float32's), ${dequantizes} DEQUANTIZE`);
      if (label === 'tfjs uint8') {
        assert.equal(dequantizes, 0);
        assert.ok(!types.includes(TensorType.INT8));
      } else {
        assert.ok(dequantizes > 0, label);
        assert.ok(types.includes(label === 'float16' ? TensorType.FLOAT16 : TensorType.INT8), label);
        assert.ok(ratio < (label === 'float16' ? 0.65 : 0.4), `${label}: constants ${ratio.toFixed(2)}× float32's`);
      }
    }
  });
}
