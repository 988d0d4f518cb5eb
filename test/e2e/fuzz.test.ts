/**
 * Fuzz test (issue 15): seeded mutations of model.json, weight shards, Keras .keras/.h5 files and IDX files
 * (test/fuzz/), each case run through the CLI's own entry in a worker process. Every case must either load a sane
 * model (exit 0) or fail with slimnet's own error: exit 2 and one line naming what is wrong. An internal error
 * (exit 3), exit 1, a stack trace, a hang (per-case timeout) or unbounded memory fails the test, listing the case's
 * seed and mutations so it can be replayed (test/fuzz/replay.ts).
 *
 * SLIMNET_FUZZ_CASES (default 100) and SLIMNET_FUZZ_SEED (default 15) choose the run; `npm run fuzz` (2,000 cases)
 * is how new crashes are found. SLIMNET_FUZZ_PROGRESS=<file> appends a line per case to the file as it finishes.
 */
import assert from 'node:assert/strict';
import { fork, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { READ_TIMEOUT_ENV } from '../../pipeline/io/keras/bounded-read.ts';
import type { CaseResult, WorkerMessage, WorkerRequest } from '../fuzz/protocol.ts';
import { writeFuzzBases } from '../fuzz/bases.ts';
import { caseArgs, prepareCase } from '../fuzz/cases.ts';
import { runCliProcess } from '../fixtures/cli.ts';

const CASES = Number(process.env.SLIMNET_FUZZ_CASES ?? 100);
const SEED = Number(process.env.SLIMNET_FUZZ_SEED ?? 15);
/** A case is a few hundred milliseconds; one that takes this long is hung. */
const CASE_TIMEOUT_MS = 30_000;
/** A worker's resident memory after a case: beyond this, memory is not bounded. */
const MAX_RSS = 2.5 * 1024 ** 3;
/** A file that gets one line per case as it finishes: a long run (npm run fuzz) shows its failures as they happen. */
const PROGRESS = process.env.SLIMNET_FUZZ_PROGRESS;
/** Cases replayed through the real binary (a process each, so only a few). */
const REAL_CLI_CASES = 1;

const root = mkdtempSync(path.join(os.tmpdir(), 'slimnet-fuzz-'));
after(() => rmSync(root, { recursive: true, force: true }));

type Outcome = 'sane' | 'refused' | 'failure';
type Classified = CaseResult & { outcome: Outcome; why?: string; errorCode?: string };

let bases: string[] = [];
let results: Classified[] = [];

function classify(r: CaseResult): { outcome: Outcome; why?: string; errorCode?: string } {
  if (r.rss > MAX_RSS) return { outcome: 'failure', why: `memory: ${(r.rss / 1024 ** 2).toFixed(0)} MB resident after the case` };
  if (/\n\s+at /.test(r.stderr)) return { outcome: 'failure', why: 'printed a stack trace' };
  const lines = r.stderr.split('\n').filter((l) => l.startsWith('slimnet:'));
  if (r.code === 0) return lines.length === 0 ? { outcome: 'sane' } : { outcome: 'failure', why: `exit 0 with error lines: ${lines[0]}` };
  if (r.code === 2) {
    const code = /\[([A-Z_]+)\]$/.exec(lines[0] ?? '')?.[1];
    if (lines.length !== 1 || !code) return { outcome: 'failure', why: `exit 2 without exactly one error line: ${JSON.stringify(lines)}` };
    return { outcome: 'refused', errorCode: code };
  }
  return { outcome: 'failure', why: `exit ${r.code}: ${lines.join(' | ') || r.stderr.slice(-500)}` };
}

function progressLine(r: Classified): string {
  const what = r.outcome === 'failure' ? `FAILURE ${r.why}` : r.outcome === 'refused' ? `exit 2 ${r.errorCode}` : 'exit 0';
  return `case ${r.index} (seed ${SEED}, base ${r.base}, ${r.ms.toFixed(0)} ms): ${what}; mutations: ${r.mutations.join('; ')}\n`;
}

/** Runs cases [0, CASES) in worker processes, restarting a worker after a hang or a crash. */
async function runAll(): Promise<Classified[]> {
  const results: Classified[] = [];
  let next = 0;
  while (next < CASES) {
    const request: WorkerRequest = { from: next, to: CASES, seed: SEED, bases, root };
    next = await new Promise<number>((resolve) => {
      const worker: ChildProcess = fork(path.resolve(import.meta.dirname, '../fuzz/worker.ts'), [], {
        execArgv: ['--import', 'tsx', '--max-old-space-size=3072'],
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        // A Keras file that sends libhdf5 into a loop is cut off after this (20 s by default); tiny files read in milliseconds.
        env: { ...process.env, [READ_TIMEOUT_ENV]: '5000' },
      });
      let stderr = '';
      worker.stderr!.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-2000)));
      let current = request.from;
      let timer: NodeJS.Timeout | undefined;
      const fail = (why: string) => {
        const r: Classified = { index: current, base: '?', mutations: ['(replay with its seed)'], code: null, stderr, noise: '', ms: CASE_TIMEOUT_MS, rss: 0, outcome: 'failure', why };
        results.push(r);
        if (PROGRESS) appendFileSync(PROGRESS, progressLine(r));
      };
      worker.on('message', (m: WorkerMessage) => {
        if ('started' in m) {
          current = m.started;
          clearTimeout(timer);
          timer = setTimeout(() => {
            fail(`hung: no result after ${CASE_TIMEOUT_MS / 1000} s`);
            worker.kill('SIGKILL');
          }, CASE_TIMEOUT_MS);
        } else if ('index' in m) {
          clearTimeout(timer);
          const r: Classified = { ...m, ...classify(m) };
          results.push(r);
          if (PROGRESS) appendFileSync(PROGRESS, progressLine(r));
        }
      });
      worker.on('exit', (code, signal) => {
        clearTimeout(timer);
        const finished = results.some((r) => r.index === CASES - 1);
        if (!finished && !results.some((r) => r.index === current)) fail(`the worker died (${signal ?? `exit ${code}`}): ${stderr.slice(-600)}`);
        resolve(finished ? CASES : current + 1);
      });
      worker.send(request);
    });
  }
  return results;
}

test(`fuzzed model.json, shards and IDX files: sane or a one-line exit 2, never an internal error (${CASES} cases, seed ${SEED})`, { timeout: CASES * CASE_TIMEOUT_MS }, async () => {
  bases = await writeFuzzBases(root);
  const started = performance.now();
  results = await runAll();
  const seconds = (performance.now() - started) / 1000;
  const count = (o: Outcome) => results.filter((r) => r.outcome === o).length;
  const codes = new Map<string, number>();
  for (const r of results) if (r.errorCode) codes.set(r.errorCode, (codes.get(r.errorCode) ?? 0) + 1);
  const maxRss = Math.max(...results.map((r) => r.rss));
  const ms = results.map((r) => r.ms).sort((a, b) => a - b);
  const keras = results.filter((r) => /keras|h5/.test(r.base)).length;
  process.stdout.write(`# fuzz: ${results.length} cases (seed ${SEED}) in ${seconds.toFixed(0)} s: ${count('sane')} sane (exit 0), ` +
    `${count('refused')} refused (exit 2: ${[...codes].map(([c, n]) => `${c} ${n}`).join(', ')}), ${count('failure')} failures; ` +
    `${keras} cases on Keras files; median case ${ms[ms.length >> 1]!.toFixed(0)} ms, slowest ${ms[ms.length - 1]!.toFixed(0)} ms; max worker RSS ${(maxRss / 1024 ** 2).toFixed(0)} MB\n`);
  const failures = results.filter((r) => r.outcome === 'failure');
  const report = failures.slice(0, 10).map((r) => `case ${r.index} (seed ${SEED}, base ${r.base}): ${r.why}\n  mutations: ${r.mutations.join('; ')}\n  ${r.noise}`).join('\n');
  assert.equal(failures.length, 0, report);
  assert.equal(results.length, CASES);
});

test('the first cases through the real CLI binary give the same exit code and error line as in-process', async () => {
  for (const r of results.slice(0, REAL_CLI_CASES)) {
    const { dir, model } = await prepareCase(root, bases, SEED, r.index);
    const real = runCliProcess(caseArgs(model), dir);
    const line = (stderr: string) => stderr.split('\n').find((l) => l.startsWith('slimnet:'));
    assert.equal(real.code, r.code, `case ${r.index}: ${r.mutations.join('; ')}\n${real.stderr}`);
    assert.equal(line(real.stderr), line(r.stderr), `case ${r.index}`);
  }
});
