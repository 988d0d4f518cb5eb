/**
 * What can be checked about the inputs named on the command line without tfjs, onnxruntime or a child process:
 * a TF.js model.json (JSON, topology present, manifest sound, every shard confined to the model's folder, a regular
 * file of exactly the size the manifest needs) and IDX folders (each file's header against its size, each pair's
 * counts, train and test shapes), for the paths given as flags and for those a config file names. The CLI runs
 * these before it starts the run, so a hostile or broken input gets its one-line error in a fraction of a second
 * instead of after the engines load; the run repeats them as it reads (the same functions) and checks everything
 * else (layer configs, weight values, labels against the model).
 */
import path from 'node:path';
import type { ResolvedConfig } from './config.ts';
import { checkIdxFolderHeaders, checkIdxSetFolderHeaders } from './data/idx.ts';
import { detectModelFormat } from './io/keras/container.ts';
import { listModelFiles } from './io/model-files.ts';

/** Input paths as given on the command line (relative to `cwd`); an absent one is not checked here. */
export interface InputPaths {
  model?: string;
  data?: string;
  validationData?: string;
}

/** Throws the SlimnetError the run would throw for a malformed model file, manifest, shard or IDX header. */
export async function preflightInputs(paths: InputPaths, cwd = process.cwd()): Promise<void> {
  if (paths.model !== undefined) {
    const detected = detectModelFormat(path.resolve(cwd, paths.model));
    // A Keras file's checks need HDF5 (h5wasm): they run in the run itself.
    if (detected.format === 'tfjs-layers') await listModelFiles(detected.path);
  }
  if (paths.data !== undefined) await checkIdxFolderHeaders(path.resolve(cwd, paths.data));
  if (paths.validationData !== undefined) await checkIdxSetFolderHeaders(path.resolve(cwd, paths.validationData));
}

/** The same checks for the inputs a resolved config names (absolute paths; the mnist package and arrays need none). */
export async function preflightRunInputs(config: ResolvedConfig): Promise<void> {
  const validation = config.data.validation;
  await preflightInputs({
    model: config.model,
    data: config.data.source === 'idx' ? config.data.dir : undefined,
    validationData: validation?.source === 'idx' ? validation.dir : undefined,
  });
}
