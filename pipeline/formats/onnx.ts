/**
 * ONNX (one .onnx file), loaded back with onnxruntime-node and validated by the official ONNX checker when
 * python3 with the `onnx` package is installed. Weights keep their storage (pipeline/onnx/weight-const.ts) and encode
 * the IR's values exactly; a model with int8 weights is still checked as a quantised format, because onnxruntime's
 * default optimisations run its DequantizeLinear → Conv/MatMul pairs with integer kernels (numerics differ from the
 * float graph by ~1e-4), which is what users of the file get.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { currentCalibration } from '../activation-calibration.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { DEFAULT_OPSET, exportOnnx, MAX_OPSET, MIN_OPSET } from '../onnx/export.ts';
import { createOrtSession, ortPredictor } from '../onnx/ort.ts';
import { runOnnxChecker } from './onnx-checker.ts';
import { problemOf } from './coverage.ts';
import type { ExportFormat } from './types.ts';

const options = z.strictObject({
  opset: z.number().int().min(MIN_OPSET).max(MAX_OPSET).default(DEFAULT_OPSET).describe(`ONNX opset version (${MIN_OPSET}–${MAX_OPSET})`),
});

export const onnxFormat: ExportFormat<typeof options> = {
  id: 'onnx',
  description: 'ONNX model, checked on onnxruntime-node and by the official ONNX checker when installed',
  artifact: 'onnx/model.onnx',
  options,
  async write(ir, file, ctx) {
    const calibration = currentCalibration(ir);
    const activationRanges = calibration?.onnxQdq ? calibration.ranges : undefined;
    await writeFileAtomic(file, exportOnnx(ir, { opset: ctx.options.opset, ...(activationRanges ? { activationRanges } : {}) }));
    return { files: [file] };
  },
  async load(file) {
    return ortPredictor(await createOrtSession(await readFile(file), { threads: 1 }));
  },
  async coverage(ir) {
    return problemOf(() => exportOnnx(ir));
  },
  async check(file) {
    return runOnnxChecker(file);
  },
  parity: (ir) => (currentCalibration(ir)?.onnxQdq
    ? { kind: 'quantized', why: 'int8 activations (static QDQ)' }
    : ir.layers.some((l) => l.weights.some((w) => w.storage?.dtype === 'int8' && w.storage.onnx !== 'cast-mul'))
    ? { kind: 'quantized', why: 'int8 weights (DequantizeLinear)' }
    : { kind: 'float' }),
};
