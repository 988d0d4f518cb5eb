/**
 * Replays fuzz cases through the real CLI binary, to see what a failing case does:
 *   SLIMNET_FUZZ_SEED=15 npx tsx test/fuzz/replay.ts 17 [42 …]
 * Each case folder is kept under a temporary folder (printed) with its mutated files.
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runCliProcess } from '../fixtures/cli.ts';
import { writeFuzzBases } from './bases.ts';
import { caseArgs, prepareCase } from './cases.ts';

const seed = Number(process.env.SLIMNET_FUZZ_SEED ?? 15);
const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-fuzz-replay-'));
const bases = await writeFuzzBases(root);
for (const index of process.argv.slice(2).map(Number)) {
  const c = await prepareCase(root, bases, seed, index);
  const r = runCliProcess([...caseArgs(c.model), "--verbose"], c.dir, Number(process.env.SLIMNET_FUZZ_REPLAY_TIMEOUT ?? 120_000));
  process.stdout.write(`case ${index} (seed ${seed}, base ${c.base}) in ${c.dir}\n  mutations: ${c.mutations.join('; ')}\n  exit ${r.code}\n${r.stderr}\n`);
}
