/** `slimnet pack <run>` and `slimnet verify <pack.tgz>`: release packs of a finished run (pipeline/pack/). */
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { writeFileAtomic } from '../io/atomic.ts';
import { SlimnetError } from '../errors.ts';
import { buildPack, MANIFEST_FILE } from '../pack/pack.ts';
import { readTgz } from '../pack/tar.ts';
import { packNotFound, verifyPack } from '../pack/verify.ts';

/** An existing file at `--out` is replaced only if it is itself a slimnet pack. */
function checkPackTarget(out: string): void {
  if (!existsSync(out)) return;
  const st = lstatSync(out);
  let ours = false;
  if (st.isFile()) {
    try {
      ours = readTgz(readFileSync(out))[0]?.path === MANIFEST_FILE;
    } catch {
      ours = false;
    }
  }
  if (!ours) throw new SlimnetError('OUTPUT_REFUSED', `--out ${out}`, 'exists and is not a slimnet pack', 'name a new file, e.g. my-model.tgz');
}

export async function packCommand(run: string, out: string | undefined, print: (line: string) => void): Promise<number> {
  const runDir = path.resolve(run);
  if (!existsSync(runDir) || !lstatSync(runDir).isDirectory()) {
    throw new SlimnetError('RUN_INVALID', run, 'is not a folder', 'pass the output folder of a slimnet compress run, e.g. artifacts/mnist-cnn');
  }
  const { tgz, manifest } = await buildPack(runDir);
  const file = path.resolve(out ?? `${manifest.name}.tgz`);
  if (path.relative(runDir, file).split(path.sep)[0] !== '..' && !path.isAbsolute(path.relative(runDir, file))) {
    throw new SlimnetError('OUTPUT_REFUSED', `--out ${out}`, 'is inside the run folder it packs', 'write the pack elsewhere');
  }
  checkPackTarget(file);
  await writeFileAtomic(file, tgz);
  print(`${path.relative(process.cwd(), file) || file}: ${manifest.files.length} files + manifest.json, ${tgz.length.toLocaleString('en-US')} bytes`);
  return 0;
}

export function verifyCommand(file: string, print: (line: string) => void, printError: (line: string) => void): number {
  if (!existsSync(file) || !lstatSync(file).isFile()) throw packNotFound(file);
  const result = verifyPack(readFileSync(file));
  if (result.ok) {
    const m = result.manifest!;
    print(`${file}: ok — ${result.verified} files match manifest.json (${m.name}, ${m.tool.name} ${m.tool.version}, source model sha256 ${m.source.model.sha256.slice(0, 12)}…)`);
    return 0;
  }
  for (const p of result.problems) printError(`slimnet: ${file}: ${p}`);
  printError(`slimnet: ${file}: verification FAILED (${result.problems.length} problem${result.problems.length > 1 ? 's' : ''})`);
  return 1;
}
