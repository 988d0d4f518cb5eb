/**
 * The official ONNX checker (`onnx.checker.check_model(full_check=True)`, which also runs strict shape inference)
 * through python3's `onnx` package. Interpreters are tried in order — $SLIMNET_PYTHON, `python3` on the PATH,
 * Debian's /usr/bin/python3 (a pyenv `python3` cannot see Debian's python3-onnx) — and the first that imports
 * onnx is kept for the process. Without one, the result says the checker is unavailable: never a failure.
 */
import { spawn } from 'node:child_process';
import type { CheckResult } from './types.ts';

const SCRIPT = new URL('./onnx_check.py', import.meta.url).pathname;
/** onnx_check.py's exit status when `import onnx` fails. */
const UNAVAILABLE = 3;

interface RunOutput {
  status: number | null;
  output: string;
  spawnError?: string;
}

function run(python: string, files: string[]): Promise<RunOutput> {
  return new Promise((resolve) => {
    const child = spawn(python, [SCRIPT, ...files], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    child.on('error', (e) => resolve({ status: null, output, spawnError: e.message }));
    child.on('close', (status) => resolve({ status, output: output.trim() }));
  });
}

function candidates(): string[] {
  return [...new Set([process.env.SLIMNET_PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p))];
}

let resolved: string | undefined;

/** Checks every file in one python process; one result per file, in order. `pythons`: interpreters to try instead of the defaults. */
export async function runOnnxCheckerOn(files: string[], pythons?: string[]): Promise<CheckResult[]> {
  const refusals: string[] = [];
  for (const python of pythons ?? (resolved ? [resolved] : candidates())) {
    const r = await run(python, files);
    if (r.spawnError || r.status === UNAVAILABLE || r.status === null) {
      refusals.push(`${python}: ${r.spawnError ?? (r.output.replace(/^UNAVAILABLE /, '') || `exit ${r.status}`)}`);
      continue;
    }
    if (!pythons) resolved = python;
    const version = /^VERSION (\S+)/m.exec(r.output)?.[1];
    const checker = `onnx.checker ${version ?? '(unknown version)'} (${python})`;
    return files.map((file) => {
      const line = r.output.split('\n').find((l) => l === `OK ${file}` || l.startsWith(`FAIL ${file}: `));
      if (line?.startsWith('OK ')) return { checker, status: 'passed' };
      return { checker, status: 'failed', message: line ? line.slice(`FAIL ${file}: `.length) : r.output || `exit ${r.status}` };
    });
  }
  const message = `no python3 with the onnx package (${refusals.join('; ')}); install python3-onnx or set SLIMNET_PYTHON`;
  return files.map(() => ({ checker: 'onnx.checker', status: 'unavailable', message }));
}

export async function runOnnxChecker(file: string): Promise<CheckResult> {
  return (await runOnnxCheckerOn([file]))[0]!;
}
