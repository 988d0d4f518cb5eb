/**
 * The export-format registry: every format the `export` stage can write, by its fixed id. Adding a format is
 * one module implementing ExportFormat (types.ts) and one line here; nothing else names formats.
 */
import { onnxFormat } from './onnx.ts';
import { tfjsFormat } from './tfjs.ts';
import { tfliteFormat, tfliteInt8Format } from './tflite/format.ts';
import type { ExportFormat } from './types.ts';
import { FORMAT_IDS } from './ids.ts';

export const FORMATS: Readonly<Record<string, ExportFormat>> = {
  tfjs: tfjsFormat as unknown as ExportFormat,
  onnx: onnxFormat as unknown as ExportFormat,
  tflite: tfliteFormat as unknown as ExportFormat,
  'tflite-int8': tfliteInt8Format as unknown as ExportFormat,
};

export { FORMAT_IDS };

// FORMAT_IDS is written out (ids.ts) so flags and configs parse without format code; it must be the registry's.
if (Object.keys(FORMATS).join() !== FORMAT_IDS.join()) {
  throw new Error(`pipeline/formats/ids.ts lists ${FORMAT_IDS.join(', ')} but the registry has ${Object.keys(FORMATS).join(', ')}`);
}

export type { CheckResult, ExportFormat, FormatContext, ParityExpectation, WrittenArtifact } from './types.ts';
