/**
 * The `export` stage: writes the model in each requested format, loads every artifact back from disk with the
 * runtime users will use (stock @tensorflow/tfjs; onnxruntime-node), and fails unless each reproduces the IR's
 * predictions on the test split.
 */
import * as tf from '@tensorflow/tfjs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { LabelledSet } from '../pipeline/data/types.ts';
import { layersModelPredictor, predictSet, tfjsPredictor, type Predictor } from '../pipeline/evaluate.ts';
import { writeFileAtomic } from '../pipeline/io/atomic.ts';
import { fileLoadHandler } from '../pipeline/io/tfjs-file-handler.ts';
import { writeModel } from '../pipeline/io/write-model.ts';
import type { ModelIR } from '../pipeline/ir.ts';
import { DEFAULT_OPSET, exportOnnx, MAX_OPSET, MIN_OPSET } from '../pipeline/onnx/export.ts';
import { createOrtSession, ortPredictor } from '../pipeline/onnx/ort.ts';
import { assertParity, checkParity, type ParityReport } from '../pipeline/parity.ts';
import type { StageDefinition } from '../pipeline/stage.ts';

export const EXPORT_FORMATS = ['tfjs', 'onnx'] as const;
type ExportFormat = (typeof EXPORT_FORMATS)[number];

const options = z.strictObject({
  formats: z.array(z.enum(EXPORT_FORMATS)).min(1).default([...EXPORT_FORMATS]).describe('formats to write; default every implemented format'),
  opset: z.number().int().min(MIN_OPSET).max(MAX_OPSET).default(DEFAULT_OPSET).describe('ONNX opset version'),
  minTop1Agreement: z.number().min(0).max(1).default(0.999).describe('fraction of test samples whose top-1 class must match the IR'),
  maxAbsDiff: z.number().nonnegative().default(1e-4).describe('largest allowed |difference| of any output value against the IR'),
  batchSize: z.number().int().positive().default(256).describe('batch size of the parity run'),
});
type ExportOptions = z.output<typeof options>;

/** Where each format's artifact goes inside the stage folder. */
const ARTIFACT_PATHS: Record<ExportFormat, string> = { tfjs: 'tfjs/model.json', onnx: 'onnx/model.onnx' };

/** Writes one format under stageDir and returns a Predictor that runs the artifact as loaded back from disk. */
const WRITERS: Record<ExportFormat, (ir: ModelIR, file: string, opts: ExportOptions) => Promise<Predictor>> = {
  async tfjs(ir, file) {
    await writeModel(ir, path.dirname(file));
    return layersModelPredictor(await tf.loadLayersModel(fileLoadHandler(file)));
  },
  async onnx(ir, file, opts) {
    await writeFileAtomic(file, exportOnnx(ir, { opset: opts.opset }));
    return ortPredictor(await createOrtSession(await readFile(file), { threads: 1 }));
  },
};

export const exportStage: StageDefinition<typeof options> = {
  name: 'export',
  description: 'Write TF.js and ONNX artifacts and prove each reproduces the model on the test split.',
  options,
  create: (opts) => ({
    name: 'export',
    async run(ir, ctx) {
      const test = ctx.data.test;
      const reference = await predictAndDispose(await tfjsPredictor(ir), test, opts.batchSize);
      const parity: Partial<Record<ExportFormat, ParityReport>> = {};
      const exports: Partial<Record<ExportFormat, string>> = {};
      for (const format of opts.formats) {
        const file = path.join(ctx.stageDir, ARTIFACT_PATHS[format]);
        const predictor = await WRITERS[format](ir, file, opts);
        const report = checkParity({ reference, candidate: await predictAndDispose(predictor, test, opts.batchSize), samples: test.count, labels: test.y });
        parity[format] = report;
        exports[format] = ARTIFACT_PATHS[format];
        ctx.log(`${format}: top-1 agreement ${(report.top1Agreement * 100).toFixed(2)}%, max |Δ| ${report.maxAbsDiff.toExponential(2)}, test accuracy ${((report.accuracy ?? 0) * 100).toFixed(2)}%`);
        assertParity(report, `${format} export (${ARTIFACT_PATHS[format]})`, opts);
      }
      // The TF.js export is the stage's model: its size is what `bytes` reports.
      return { ir, modelJson: exports.tfjs, exports, details: { parity } };
    },
  }),
  renderDetails(details) {
    const parity = (details as { parity?: Partial<Record<ExportFormat, ParityReport>> }).parity ?? {};
    return [
      'Each artifact loaded back from disk and run on the test split, against the model it was written from:',
      '',
      '| format | top-1 agreement | max abs diff | test accuracy |',
      '|---|---|---|---|',
      ...Object.entries(parity).map(([format, p]) =>
        `| ${format} | ${(p.top1Agreement * 100).toFixed(2)}% | ${p.maxAbsDiff.toExponential(2)} | ${((p.accuracy ?? 0) * 100).toFixed(2)}% |`),
    ];
  },
};

async function predictAndDispose(predictor: Predictor, set: LabelledSet, batchSize: number): Promise<Float32Array> {
  try {
    return await predictSet(predictor, set, batchSize);
  } finally {
    predictor.dispose();
  }
}
