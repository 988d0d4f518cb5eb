/**
 * The `export` stage: writes the model in each requested format, loads every artifact back from disk with the
 * runtime users will use, and fails unless it reproduces the IR's predictions on the test split.
 */
import * as tf from '@tensorflow/tfjs';
import path from 'node:path';
import { z } from 'zod';
import type { LabelledSet } from '../pipeline/data/types.ts';
import { SlimnetError } from '../pipeline/errors.ts';
import { layersModelPredictor, predictSet, tfjsPredictor, type Predictor } from '../pipeline/evaluate.ts';
import { fileLoadHandler } from '../pipeline/io/tfjs-file-handler.ts';
import { writeModel } from '../pipeline/io/write-model.ts';
import { compareOutputs, type ParityResult } from '../pipeline/parity.ts';
import type { StageDefinition } from '../pipeline/stage.ts';

export const EXPORT_FORMATS = ['tfjs'] as const;

const options = z.strictObject({
  formats: z
    .array(z.enum(EXPORT_FORMATS))
    .min(1)
    .default([...EXPORT_FORMATS])
    .describe('formats to write; default every implemented format'),
  minTop1Agreement: z.number().min(0).max(1).default(0.999).describe('fraction of test samples whose top-1 class must match the IR'),
  maxAbsDiff: z.number().nonnegative().default(1e-4).describe('largest allowed |difference| of any output value against the IR'),
  batchSize: z.number().int().positive().default(256).describe('batch size of the parity run'),
});

export const exportStage: StageDefinition<typeof options> = {
  name: 'export',
  description: 'Write TF.js (and, when implemented, ONNX) artifacts and prove each reproduces the model on the test split.',
  options,
  create: (opts) => ({
    name: 'export',
    async run(ir, ctx) {
      const reference = await predictAllAndDispose(await tfjsPredictor(ir), ctx.data.test, opts.batchSize);
      const parity: Record<string, ParityResult> = {};
      const exports: { tfjs?: string } = {};
      for (const format of opts.formats) {
        if (format === 'tfjs') {
          await writeModel(ir, path.join(ctx.stageDir, 'tfjs'));
          exports.tfjs = 'tfjs/model.json';
          // Stock tfjs loading the files from disk: exactly what a user of the artifact does.
          const loaded = await tf.loadLayersModel(fileLoadHandler(path.join(ctx.stageDir, exports.tfjs)));
          parity.tfjs = compareOutputs(reference, await predictAllAndDispose(layersModelPredictor(loaded), ctx.data.test, opts.batchSize), ctx.data.test.y);
        }
        const result = parity[format]!;
        ctx.log(`${format}: top-1 agreement ${(result.top1Agreement * 100).toFixed(2)}%, max |Δ| ${result.maxAbsDiff.toExponential(2)}`);
        if (result.top1Agreement < opts.minTop1Agreement || result.maxAbsDiff > opts.maxAbsDiff) {
          throw new SlimnetError(
            'EXPORT_PARITY',
            `${format} export`,
            `disagrees with the model: top-1 agreement ${result.top1Agreement.toFixed(4)} (need ≥ ${opts.minTop1Agreement}), max |Δ| ${result.maxAbsDiff.toExponential(3)} (need ≤ ${opts.maxAbsDiff})`,
            'this is a slimnet bug; please report it with the model',
          );
        }
      }
      return { ir, modelJson: exports.tfjs, exports, details: { parity } };
    },
  }),
};

async function predictAllAndDispose(predictor: Predictor, set: LabelledSet, batchSize: number): Promise<Float32Array> {
  try {
    return await predictSet(predictor, set, batchSize);
  } finally {
    predictor.dispose();
  }
}
