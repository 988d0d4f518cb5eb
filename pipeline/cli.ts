/**
 * The slimnet CLI: parses flags, loads the config, calls runPipeline, prints. Kept thin so everything it does
 * is callable from tests without it. Exit codes: 0 ok, 1 budget/parity not met, 2 bad input or config, 3 bug.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isSlimnetError } from './errors.ts';
import { installChildSignalHandlers, isSupervisedChild, reportProgress, superviseCompress } from './supervisor.ts';
import type { ConfigOverrides } from './load-config.ts';
import type { Report } from './report.ts';
import { TOOL } from './version.ts';

export const EXIT = { ok: 0, budget: 1, badInput: 2, internal: 3 } as const;

interface CompressArgs extends ConfigOverrides {
  config?: string;
  force: boolean;
  json: boolean;
  verbose: boolean;
}

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

export interface MainOptions {
  /**
   * The real command line (bin/slimnet.js): run a compression in a supervised child process, which SIGINT/SIGTERM
   * stop within a second whatever it is doing (pipeline/supervisor.ts). In-process callers handle their own signals.
   */
  supervise?: boolean;
}

export async function main(argv: string[], io: CliIO = PROCESS_IO, opts: MainOptions = {}): Promise<number> {
  let exitCode: number = EXIT.ok;
  const parser = yargs(argv)
    .scriptName('slimnet')
    .version(TOOL.version)
    .usage('$0 <command> [options]')
    .command<CompressArgs>(
      'compress',
      'Run the compression pipeline: measure, transform stage by stage behind the accuracy budget, export.',
      (y) =>
        y
          .option('config', { type: 'string', describe: 'pipeline config file (default ./pipeline.config.ts when present)' })
          .option('model', { type: 'string', describe: 'input model: TF.js model.json, Keras .keras (file or folder) or .h5 (overrides the config)' })
          .option('data', { type: 'string', describe: 'IDX dataset folder (overrides the config)' })
          .option('data-scale', { type: 'number', describe: 'input = raw · scale + offset (default 1/255 for 8-bit images, else 1)' })
          .option('data-offset', { type: 'number', describe: 'input = raw · scale + offset (default 0)' })
          .option('out', { type: 'string', describe: 'output folder (default artifacts/<run name>); only a new, empty or slimnet-created folder is replaced' })
          .option('force', { type: 'boolean', default: false, describe: 'replace --out even if files were added to it (only ever a folder slimnet created)' })
          .option('stages', { type: 'string', describe: 'comma list of stages to run, in order: prune,separable,quantize,export' })
          .option('max-accuracy-drop', { type: 'number', describe: 'budget: allowed absolute drop of validation accuracy (default 0.01)' })
          .option('backend', { type: 'string', choices: ['auto', 'wasm', 'tfjs-node', 'cpu'], describe: 'tfjs backend (auto: tfjs-node if it loads, else wasm)' })
          .option('seed', { type: 'number', describe: 'seed for every random choice (default 42)' })
          .option('json', { type: 'boolean', default: false, describe: 'print report.json on stdout (progress goes to stderr)' })
          .option('verbose', { type: 'boolean', default: false, describe: 'stack traces and more detail on errors' }),
      async (args) => {
        exitCode = await compress(args, io, opts, argv);
      },
    )
    .demandCommand(1, 'name a command: slimnet compress --help')
    .strict()
    .fail((message, error) => {
      // Throwing stops yargs from running the command after a usage error.
      throw error ?? new UsageError(message);
    })
    .help()
    .alias('h', 'help')
    .wrap(Math.min(110, process.stdout.columns || 100));
  try {
    await parser.parseAsync();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const oneLine = e.message.split('\n').map((l) => l.trim()).filter(Boolean).join(' ');
    io.stderr(`slimnet: ${oneLine} (see slimnet --help)\n`);
    return EXIT.badInput;
  }
  return exitCode;
}

class UsageError extends Error {}

async function compress(args: CompressArgs, io: CliIO, opts: MainOptions, argv: string[]): Promise<number> {
  const child = isSupervisedChild();
  if (opts.supervise && !child) return superviseCompress(argv, io.stderr);
  const releaseSupervisor = child ? installChildSignalHandlers() : undefined;
  const progress = progressPrinter(io, child ? reportProgress : undefined);
  // Libraries (tfjs among them) print to console.log; with --json, stdout carries only the report.
  const consoleLog = console.log;
  if (args.json) console.log = (...a: unknown[]) => console.error(...a);
  try {
    const { loadConfig } = await import('./load-config.ts');
    const { runPipeline } = await import('./runner.ts');
    const { config } = await loadConfig(args.config, args);
    const result = await runPipeline(config, { log: progress, force: args.force });
    if (args.json) io.stdout(JSON.stringify(result.report, null, 2) + '\n');
    if (result.failure) io.stderr(`slimnet: ${result.failure}\n`);
    progress(summarize(result.report));
    progress(`report: ${path.relative(process.cwd(), path.join(result.outDir, 'report.json'))} (exit ${result.exitCode})`);
    return result.exitCode;
  } catch (e) {
    if (isSlimnetError(e)) {
      io.stderr(e.oneLine() + '\n');
      if (args.verbose && e.stack) io.stderr(e.stack + '\n');
      return EXIT.badInput;
    }
    io.stderr(`slimnet: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof Error && e.stack) io.stderr(`${args.verbose ? e.stack : 'run again with --verbose for the stack trace'}\n`);
    return EXIT.internal;
  } finally {
    console.log = consoleLog;
    releaseSupervisor?.();
  }
}

/** One line: what the run did to the model, baseline → final. */
function summarize(report: Report): string {
  const { baseline: b, final: f } = report;
  const n = (v: number) => v.toLocaleString('en-US');
  const times = (a: number, z: number) => (z > 0 && a !== z ? ` (${(a / z).toFixed(2)}× fewer)` : '');
  const pct = (v: number) => `${(v * 100).toFixed(2)}%`;
  return `result: params ${n(b.params)} → ${n(f.params)}${times(b.params, f.params)}, bytes ${n(b.bytes)} → ${n(f.bytes)}, ` +
    `MACs ${n(b.macs)} → ${n(f.macs)}, val ${pct(b.valAccuracy)} → ${pct(f.valAccuracy)}, test ${pct(b.testAccuracy)} → ${pct(f.testAccuracy)}`;
}

/** Progress goes to stderr: timestamps as plain lines when piped, elapsed time when on a terminal. */
function progressPrinter(io: CliIO, forward?: (message: string) => void): (message: string) => void {
  const start = performance.now();
  const tty = io.tty;
  return (message) => {
    const seconds = ((performance.now() - start) / 1000).toFixed(1).padStart(6);
    io.stderr(tty ? `\x1b[2m${seconds}s\x1b[0m ${message}\n` : `[${seconds}s] ${message}\n`);
    forward?.(message);
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(hideBin(process.argv), PROCESS_IO, { supervise: true });
}
