/**
 * ONNX (one .onnx file), loaded back with onnxruntime-node and validated by the official ONNX checker when
 * python3 with the `onnx` package is installed. Float numerics: the exporter reproduces the IR's weights exactly.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { writeFileAtomic } from '../io/atomic.ts';
import { DEFAULT_OPSET, exportOnnx, MAX_OPSET, MIN_OPSET } from '../onnx/export.ts';
import { createOrtSession, ortPredictor } from '../onnx/ort.ts';
import { runOnnxChecker } from './onnx-checker.ts';
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
    await writeFileAtomic(file, exportOnnx(ir, { opset: ctx.options.opset }));
    return { files: [file] };
  },
  async load(file) {
    return ortPredictor(await createOrtSession(await readFile(file), { threads: 1 }));
  },
  async check(file) {
    return runOnnxChecker(file);
  },
  parity: () => ({ kind: 'float' }),
};
