/**
 * Measured as shipped: a model's TF.js and ONNX artifacts written to disk by the export formats' own writers, loaded
 * back in their own runtimes (stock tfjs; onnxruntime-node) and measured there — what users of the files get, not
 * what the IR computes. Sizes are the files' bytes and their gzip bytes (what a web server sends).
 */
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Predictor } from '../evaluate.ts';
import { FORMATS } from '../formats/index.ts';
import type { CheckResult } from '../formats/types.ts';
import type { ModelIR } from '../ir.ts';
import type { StageContext } from '../stage.ts';

/** The formats the quantize stage ships and measures. */
export const SHIPPED_FORMATS = ['tfjs', 'onnx'] as const;
export type ShippedFormat = (typeof SHIPPED_FORMATS)[number];

export interface ShippedArtifact {
  /** Path relative to the stage folder (or absolute for the float reference, which is not kept). */
  file: string;
  bytes: number;
  gzipBytes: number;
  valAccuracy: number;
  testAccuracy?: number;
  check?: CheckResult;
}

export type ShippedSet = Record<ShippedFormat, ShippedArtifact>;

function sizes(files: string[]): { bytes: number; gzipBytes: number } {
  let bytes = 0;
  let gzipBytes = 0;
  for (const f of files) {
    bytes += statSync(f).size;
    gzipBytes += gzipSync(readFileSync(f), { level: 9 }).length;
  }
  return { bytes, gzipBytes };
}

/** Writes `ir` in `format` under `dir` and loads it back in its runtime (the caller disposes the predictor). */
export async function writeAndLoad(ir: ModelIR, format: ShippedFormat, dir: string, ctx: StageContext): Promise<{ file: string; files: string[]; predictor: Predictor }> {
  const f = FORMATS[format]!;
  const file = path.join(dir, f.artifact);
  const options = f.options.parse({});
  const written = await f.write(ir, file, { options, data: ctx.data, seed: ctx.seed, log: (m) => ctx.log(`${format}: ${m}`) });
  return { file, files: written.files, predictor: await f.load(file, options) };
}

/**
 * Both artifacts of `ir` under `dir`, measured on validation (and on test when `withTest`; test is reported only).
 * `keep` receives the loaded predictors (for a latency comparison); otherwise they are disposed here.
 */
export async function measureShipped(
  ir: ModelIR, dir: string, ctx: StageContext, opts: { withTest: boolean; check?: boolean; keep?: (format: ShippedFormat, p: Predictor) => void },
): Promise<ShippedSet> {
  const out = {} as ShippedSet;
  for (const format of SHIPPED_FORMATS) {
    const { file, files, predictor } = await writeAndLoad(ir, format, dir, ctx);
    try {
      const artifact: ShippedArtifact = { file, ...sizes(files), valAccuracy: (await ctx.measure(predictor, 'validation')).accuracy };
      if (opts.withTest) artifact.testAccuracy = (await ctx.measure(predictor, 'test')).accuracy;
      const check = opts.check ? await FORMATS[format]!.check?.(file) : undefined;
      if (check) artifact.check = check;
      out[format] = artifact;
    } finally {
      if (opts.keep) opts.keep(format, predictor);
      else predictor.dispose();
    }
  }
  return out;
}
