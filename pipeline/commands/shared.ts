/** What every CLI command shares: where it prints, its exit codes, progress lines, and how errors become exit codes. */
import { isSlimnetError } from '../errors.ts';

export const EXIT = { ok: 0, budget: 1, badInput: 2, internal: 3 } as const;

/** Where the CLI prints: the process's streams, or a capture (tests run the CLI in-process). */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Progress as elapsed-time lines (a terminal) or `[  12.3s]` lines (piped). */
  tty: boolean;
}

export const PROCESS_IO: CliIO = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  get tty() {
    return !!process.stderr.isTTY;
  },
};

/** Progress goes to stderr: timestamps as plain lines when piped, elapsed time when on a terminal. */
export function progressPrinter(io: CliIO): (message: string) => void {
  const start = performance.now();
  const tty = io.tty;
  return (message) => {
    const seconds = ((performance.now() - start) / 1000).toFixed(1).padStart(6);
    io.stderr(tty ? `\x1b[2m${seconds}s\x1b[0m ${message}\n` : `[${seconds}s] ${message}\n`);
  };
}

/**
 * Runs a command body: a SlimnetError (bad input, bad config, a flag's bad value) is one line and exit 2; anything
 * else is a slimnet bug, exit 3, with the stack under --verbose. With `json`, libraries' console.log goes to
 * stderr so stdout carries only the command's JSON.
 */
export async function runCommand(io: CliIO, opts: { verbose: boolean; json?: boolean }, body: () => Promise<number>): Promise<number> {
  const consoleLog = console.log;
  if (opts.json) console.log = (...a: unknown[]) => console.error(...a);
  try {
    return await body();
  } catch (e) {
    if (isSlimnetError(e)) {
      io.stderr(e.oneLine() + '\n');
      if (opts.verbose && e.stack) io.stderr(e.stack + '\n');
      return EXIT.badInput;
    }
    io.stderr(`slimnet: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof Error && e.stack) io.stderr(`${opts.verbose ? e.stack : 'run again with --verbose for the stack trace'}\n`);
    return EXIT.internal;
  } finally {
    console.log = consoleLog;
  }
}

export const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
export const num = (v: number) => v.toLocaleString('en-US');
