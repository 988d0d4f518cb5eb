/**
 * One fuzz case: a copy of a base folder (data/ and a TF.js model/ or a Keras base.json), mutated by a
 * seed-derived rng; the same index always gives the same case.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { createRng, deriveSeed } from '../../pipeline/random.ts';
import { kerasBase, type KerasBaseName } from './bases.ts';
import { mutateKerasCase, mutateTfjsCase } from './mutate.ts';

/** The command line every case runs (in its folder), for its model path. */
export const caseArgs = (model: string) => ['compress', '--model', model, '--data', 'data', '--stages', 'export', '--out', 'out'];

export interface PreparedCase {
  dir: string;
  base: string;
  /** The model path, relative to `dir`. */
  model: string;
  mutations: string[];
}

export async function prepareCase(root: string, bases: string[], seed: number, index: number): Promise<PreparedCase> {
  const rng = createRng(deriveSeed(seed, `fuzz case ${index}`));
  const base = bases[rng.int(bases.length)]!;
  const dir = path.join(root, `case-${index}`);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  cpSync(base, dir, { recursive: true });
  const dataDir = path.join(dir, 'data');
  const keras = path.join(dir, 'base.json');
  if (existsSync(keras)) {
    const name = JSON.parse(readFileSync(keras, 'utf8')).name as KerasBaseName;
    rmSync(keras);
    const pristine = () => kerasBase(name);
    const model = `model.${pristine().kind}`;
    const mutations = await mutateKerasCase({ model: path.join(dir, model), modelDir: dir, dataDir }, pristine, rng);
    return { dir, base: name, model, mutations };
  }
  const model = 'model/model.json';
  const mutations = mutateTfjsCase({ model: path.join(dir, model), modelDir: path.join(dir, 'model'), dataDir }, rng);
  return { dir, base: path.basename(base), model, mutations };
}
