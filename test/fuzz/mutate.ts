/**
 * Seeded mutations of slimnet's inputs for the fuzz test, chosen per case: 1–3 mutations from the families that
 * apply to the case's model — a TF.js model (model.json, shards) or a Keras `.keras`/`.h5` (config, weights,
 * bytes) — and its IDX data. Keras description edits are applied before the file is written, byte damage after.
 * SLIMNET_FUZZ_MUTATIONS=layerConfig,nonFinite focuses a long run on some mutations (one per case).
 */
import type { Rng } from '../../pipeline/random.ts';
import { idxMutations } from './idx-mutations.ts';
import { pick } from './json-edits.ts';
import { kerasByteMutations, kerasConfigEdits, kerasWeightEdits, writeKeras, type KerasDescription } from './keras-mutations.ts';
import { modelJsonMutations, shardMutations } from './tfjs-mutations.ts';

export interface CaseFiles {
  /** The model path the CLI is given: model.json, model.keras or model.h5. */
  model: string;
  modelDir: string;
  dataDir: string;
}

export type Mutation = (c: CaseFiles, rng: Rng) => string;

type Family = Record<string, unknown>;
const TFJS_FAMILIES: Record<string, Family> = { model: modelJsonMutations, shard: shardMutations, idx: idxMutations };
const KERAS_FAMILIES: Record<string, Family> = { config: kerasConfigEdits, weights: kerasWeightEdits, bytes: kerasByteMutations, idx: idxMutations };

const ONLY = process.env.SLIMNET_FUZZ_MUTATIONS?.split(',').filter(Boolean);

/** 1–3 seeded [family, mutation] picks (one, from ONLY, when it is set). */
function choose(families: Record<string, Family>, rng: Rng): Array<[string, string]> {
  if (ONLY) {
    const names = Object.entries(families).flatMap(([f, m]) => Object.keys(m).filter((n) => ONLY.includes(n)).map((n) => [f, n] as [string, string]));
    return names.length ? [pick(rng, names)] : [];
  }
  const count = 1 + rng.int(3);
  return Array.from({ length: count }, () => {
    const family = pick(rng, Object.keys(families));
    return [family, pick(rng, Object.keys(families[family]!))];
  });
}

/** Runs one mutation; one an earlier mutation made inapplicable (e.g. model.json no longer parses) says so. */
const firstLine = (e: unknown) => String((e as Error)?.message ?? e).split('\n')[0];

function attempt(name: string, run: () => string): string {
  try {
    return `${name}: ${run()}`;
  } catch (e) {
    return `${name}: not applicable (${firstLine(e)})`;
  }
}

/** Mutates a TF.js case folder in place; returns what was done. */
export function mutateTfjsCase(c: CaseFiles, rng: Rng): string[] {
  return choose(TFJS_FAMILIES, rng).map(([family, name]) => attempt(name, () => (TFJS_FAMILIES[family]![name] as Mutation)(c, rng)));
}

/** Edits the Keras description, writes it to `c.model`, then damages the file's bytes and the data; returns what was done. */
export async function mutateKerasCase(c: CaseFiles, pristine: () => KerasDescription, rng: Rng): Promise<string[]> {
  const d = pristine();
  const picks = choose(KERAS_FAMILIES, rng);
  const done: string[] = [];
  for (const [family, name] of picks) {
    if (family === 'config') done.push(attempt(name, () => kerasConfigEdits[name]!(d, rng)));
    if (family === 'weights') done.push(attempt(name, () => kerasWeightEdits[name]!(d, rng)));
  }
  try {
    await writeKeras(d, c.model);
  } catch (e) {
    // The fixture writer refused an edit (h5wasm cannot store it): the case goes on with the description as it was.
    done.push(`write: not applicable (${firstLine(e)})`);
    await writeKeras(pristine(), c.model);
  }
  for (const [family, name] of picks) {
    if (family === 'bytes') done.push(attempt(name, () => kerasByteMutations[name]!(c.model, d.kind, rng)));
    if (family === 'idx') done.push(attempt(name, () => idxMutations[name]!(c, rng)));
  }
  return done;
}
