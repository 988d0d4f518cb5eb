/**
 * Fuzz worker: a child process that runs fuzz cases one after another, in-process, through the CLI's own entry
 * (`main`, what bin/slimnet.js calls), and reports each outcome to the parent over IPC. The parent times each case
 * and restarts a worker that hangs or dies, so one bad case cannot stall or take down the run.
 */
import { rmSync } from 'node:fs';
import { main } from '../../pipeline/cli.ts';
import { caseArgs, prepareCase } from './cases.ts';
import type { CaseResult, WorkerRequest } from './protocol.ts';

// Libraries print warnings (tfjs, onnxruntime); keep them out of the test output but available for a failure report.
const noise: string[] = [];
for (const k of ['log', 'warn', 'error', 'info'] as const) console[k] = (...a: unknown[]) => void noise.push(a.map(String).join(' '));

process.on('message', async (request: WorkerRequest) => {
  // Load what every case needs (tfjs, onnxruntime, the stages) before the first case's clock starts: on a busy
  // machine that takes longer than a case's hang limit, and it is not the case's doing.
  await import('../../pipeline/runner.ts');
  await (await import('../../pipeline/engine.ts')).initEngine('auto');
  for (let index = request.from; index < request.to; index++) {
    process.send!({ started: index });
    process.send!(await runCase(request, index));
  }
  process.send!({ finished: true }, () => process.exit(0));
});

async function runCase(request: WorkerRequest, index: number): Promise<CaseResult> {
  const { dir, base, model, mutations } = await prepareCase(request.root, request.bases, request.seed, index);
  const out: string[] = [];
  const err: string[] = [];
  noise.length = 0;
  const started = performance.now();
  let code: number | null;
  const previousCwd = process.cwd();
  process.chdir(dir);
  try {
    code = await main(caseArgs(model),
      { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t), tty: false });
  } catch (e) {
    code = null;
    err.push(`main threw: ${(e as Error)?.stack ?? e}`);
  } finally {
    process.chdir(previousCwd);
  }
  const ms = performance.now() - started;
  rmSync(dir, { recursive: true, force: true });
  return {
    index,
    base,
    mutations,
    code,
    stderr: err.join(''),
    noise: noise.slice(-5).join('\n'),
    ms,
    rss: process.memoryUsage().rss,
  };
}
