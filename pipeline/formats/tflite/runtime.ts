/**
 * The real TFLite runtime in Node: the interpreter of the optional npm package `tfjs-tflite-node`, which bundles
 * TensorFlow's libtensorflowlite_c (linux x64/arm64, macOS arm64, Windows x64) behind a small N-API addon built
 * at install. The addon is loaded directly rather than through the package's index, which would pull in a second
 * @tensorflow/tfjs-core just to wrap outputs in tensors.
 *
 * Not installed (or the addon did not build) is an expected state, reported with the reason, never a crash.
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import type { Predictor } from '../../evaluate.ts';

type TypedArray = Float32Array | Int32Array | Uint8Array | Int8Array | Int16Array | Uint32Array | Float64Array;

/** One input or output of the addon's interpreter; `data()` is a staging copy the addon syncs on infer(). */
interface AddonTensor {
  readonly name: string;
  /** Comma-separated dims, e.g. "1,28,28,1". */
  readonly shape: string;
  readonly dataType: string;
  data(): TypedArray;
}

interface AddonInterpreter {
  getInputs(): AddonTensor[];
  getOutputs(): AddonTensor[];
  infer(): boolean;
}

type InterpreterConstructor = new (model: ArrayBuffer, options: { threads?: number }) => AddonInterpreter;

export type TfliteRuntime =
  | { available: true; engine: string; createInterpreter(model: Uint8Array, opts?: { threads?: number }): AddonInterpreter }
  | { available: false; reason: string };

const PACKAGE = 'tfjs-tflite-node';
let cached: TfliteRuntime | undefined;

/** The runtime if it loads here, else why not (cached per process). */
export function tfliteRuntime(): TfliteRuntime {
  cached ??= loadTfliteRuntime();
  return cached;
}

/** Loads the addon of `packageName` (tests name a missing package to see the not-installed path). */
export function loadTfliteRuntime(packageName = PACKAGE): TfliteRuntime {
  const require = createRequire(import.meta.url);
  let root: string;
  let version: string;
  try {
    const manifest = require.resolve(`${packageName}/package.json`);
    root = path.dirname(manifest);
    version = (require(manifest) as { version: string }).version;
  } catch {
    return { available: false, reason: `${packageName} is not installed (it is an optional dependency: npm install ${packageName})` };
  }
  let Interpreter: InterpreterConstructor;
  try {
    Interpreter = (require(path.join(root, 'build', 'Release', 'node_tflite_binding.node')) as { Interpreter: InterpreterConstructor }).Interpreter;
  } catch (e) {
    const why = e instanceof Error ? e.message.split('\n')[0] : String(e);
    return {
      available: false,
      reason: `${packageName} ${version} is installed but its native addon does not load (${why}); it builds at install with node-gyp, ` +
        `which needs g++, make and python3: install them, then \`npm rebuild ${packageName}\``,
    };
  }
  return {
    available: true,
    engine: `tflite (${packageName} ${version})`,
    createInterpreter(model, opts = {}) {
      // The addon copies the model; hand it an ArrayBuffer holding exactly the file's bytes.
      const bytes = model.buffer.slice(model.byteOffset, model.byteOffset + model.byteLength) as ArrayBuffer;
      try {
        return new Interpreter(bytes, { threads: opts.threads ?? 1 });
      } catch (e) {
        throw new Error(`the TFLite runtime rejected the model: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
  };
}

function dims(t: AddonTensor): number[] {
  return t.shape.split(',').filter((d) => d !== '').map(Number);
}

/**
 * A Predictor over a .tflite model. The addon cannot resize inputs, so the model runs at the batch size it was
 * written with (slimnet writes batch 1, as TF's converter does) and a larger batch is fed sample by sample.
 * Float32 input and output only: slimnet's int8 models quantise and dequantise at their edges.
 */
export function tflitePredictor(model: Uint8Array, opts: { threads?: number } = {}): Predictor {
  const runtime = tfliteRuntime();
  if (!runtime.available) throw new Error(runtime.reason);
  const interpreter = runtime.createInterpreter(model, opts);
  const inputs = interpreter.getInputs();
  const outputs = interpreter.getOutputs();
  if (inputs.length !== 1 || outputs.length < 1) {
    throw new Error(`expected one input and at least one output, the model has ${inputs.length} and ${outputs.length}`);
  }
  const input = inputs[0]!;
  const output = outputs[0]!;
  for (const t of [input, output]) {
    if (t.dataType !== 'float32') throw new Error(`tensor "${t.name}" is ${t.dataType}; slimnet's TFLite models take and give float32`);
  }
  const inData = input.data() as Float32Array;
  const outData = output.data() as Float32Array;
  const batch = dims(input)[0] ?? 1;
  const inRow = inData.length / batch;
  const outRow = outData.length / batch;
  return {
    engine: runtime.engine,
    async predict(x, count, sampleShape) {
      const size = sampleShape.reduce((a, b) => a * b, 1);
      if (size !== inRow) throw new Error(`samples of shape [${sampleShape}] do not fit the model input [${input.shape}]`);
      const out = new Float32Array(count * outRow);
      for (let start = 0; start < count; start += batch) {
        const n = Math.min(batch, count - start);
        inData.fill(0);
        inData.set(x.subarray(start * inRow, (start + n) * inRow));
        interpreter.infer();
        out.set(outData.subarray(0, n * outRow), start * outRow);
      }
      return out;
    },
    // The interpreter is freed with its JS wrapper (the addon has no explicit release).
    dispose: () => {},
  };
}
