/**
 * The slimnet CLI: parses flags, loads the config, calls runPipeline, prints. Kept thin so everything it does
 * is callable from tests without it. Exit codes: 0 ok, 1 budget/parity not met, 2 bad input or config, 3 bug.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { isSlimnetError } from './errors.ts';
import { createDisplay, type DisplayStream } from './progress/display.ts';
import type { ConfigOverrides } from './load-config.ts';
import type { Report } from './report.ts';
import { runSummary, targetsSummary } from './summary.ts';
import { TOOL } from './version.ts';

export const EXIT = { ok: 0, budget: 1, badInput: 2, internal: 3 } as const;

interface CompressArgs extends ConfigOverrides {
  config?: string;
  force: boolean;
  json: boolean;
  verbose: boolean;
  target?: string;
  shard?: string;
  concurrency: number;
}

/** Where the CLI prints: the process's streams, or a capture (tests run the CLI in-process). */
export interface CliIO {
  stdout(text: string): void;
  stderr(text: string): void;
  /** Where progress is drawn: process.stderr (a live display when it is a terminal), or a capture (`[  12.3s]` lines). */
  progress: DisplayStream;
  /** NO_COLOR, CI, TERM; default process.env. */
  env?: NodeJS.ProcessEnv;
}

export const PROCESS_IO: CliIO = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  progress: process.stderr,
};

export interface MainOptions {
  /** The real command line (bin/slimnet.js): handle SIGINT/SIGTERM. In-process callers handle their own. */
  handleSignals?: boolean;
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
          .option('cache', { type: 'boolean', describe: 'use the stage cache (--no-cache: neither read nor write it)' })
          .option('cache-dir', { type: 'string', describe: 'cache folder (default node_modules/.cache/slimnet of the project, or $SLIMNET_CACHE_DIR)' })
          .option('target', { type: 'string', describe: 'run only these targets of the config (comma list)' })
          .option('shard', { type: 'string', describe: 'run the i-th of n deterministic slices of the targets, e.g. 1/2' })
          .option('concurrency', { type: 'number', default: 1, describe: 'targets run at once (each in this process; latency figures then share the CPU)' })
          .option('json', { type: 'boolean', default: false, describe: 'print report.json on stdout (with targets: { target: report }); progress goes to stderr' })
          .option('verbose', { type: 'boolean', default: false, describe: 'stack traces and more detail on errors' }),
      async (args) => {
        exitCode = await compress(args, io, opts);
      },
    )
    .command<{ run: string; out?: string; verbose: boolean }>(
      'pack <run>',
      'Bundle a finished run (its exports) into a deterministic .tgz with manifest.json and MODEL_CARD.md.',
      (y) =>
        y
          .positional('run', { type: 'string', demandOption: true, describe: 'the run folder (compress --out), e.g. artifacts/mnist-cnn' })
          .option('out', { type: 'string', describe: 'the .tgz to write (default ./<run name>.tgz)' })
          .option('verbose', { type: 'boolean', default: false }),
      async (args) => {
        exitCode = await guarded(io, args.verbose, async () => (await import('./commands/pack.ts')).packCommand(args.run, args.out, (l) => io.stdout(l + '\n')));
      },
    )
    .command<{ pack: string; verbose: boolean }>(
      'verify <pack>',
      'Re-check every file of a pack against its manifest.json; exit 1 on any mismatch.',
      (y) => y.positional('pack', { type: 'string', demandOption: true, describe: 'a .tgz written by slimnet pack' }).option('verbose', { type: 'boolean', default: false }),
      async (args) => {
        exitCode = await guarded(io, args.verbose, async () => (await import('./commands/pack.ts')).verifyCommand(args.pack, (l) => io.stdout(l + '\n'), (l) => io.stderr(l + '\n')));
      },
    )
    .command('cache', 'Manage the stage cache.', (y) =>
      y
        .command<{ config?: string; 'cache-dir'?: string; 'max-age'?: number; 'max-size'?: string; all: boolean; 'dry-run': boolean; verbose: boolean }>(
          'prune',
          'Remove least recently used entries beyond --max-size, entries unused for --max-age days, or --all.',
          (z) =>
            z
              .option('config', { type: 'string', describe: 'config whose cache to prune (default ./pipeline.config.ts when present)' })
              .option('cache-dir', { type: 'string', describe: 'the cache folder (default: as compress resolves it)' })
              .option('max-age', { type: 'number', describe: 'days since last use (default 14 unless --max-size or --all)' })
              .option('max-size', { type: 'string', describe: 'keep at most this much, e.g. 2G, 500M' })
              .option('all', { type: 'boolean', default: false, describe: 'remove every entry' })
              .option('dry-run', { type: 'boolean', default: false, describe: 'say what would go, remove nothing' })
              .option('verbose', { type: 'boolean', default: false }),
          async (args) => {
            exitCode = await guarded(io, args.verbose, () => cachePrune(args, io));
          },
        )
        .demandCommand(1, 'name a cache command: slimnet cache prune --help'),
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

/** Runs a command body: a SlimnetError is one line and exit 2; anything else is a bug (exit 3). */
async function guarded(io: CliIO, verbose: boolean, body: () => Promise<number> | number): Promise<number> {
  try {
    return await body();
  } catch (e) {
    if (isSlimnetError(e)) {
      io.stderr(e.oneLine() + '\n');
      if (verbose && e.stack) io.stderr(e.stack + '\n');
      return EXIT.badInput;
    }
    io.stderr(`slimnet: internal error: ${e instanceof Error ? e.message : String(e)}\n`);
    if (e instanceof Error && e.stack) io.stderr(`${verbose ? e.stack : 'run again with --verbose for the stack trace'}\n`);
    return EXIT.internal;
  }
}

async function cachePrune(args: { config?: string; 'cache-dir'?: string; 'max-age'?: number; 'max-size'?: string; all: boolean; 'dry-run': boolean }, io: CliIO): Promise<number> {
  const { existsSync } = await import('node:fs');
  const { resolveCacheDir } = await import('./cache/location.ts');
  const { parseSize, pruneCache } = await import('./cache/prune.ts');
  const { SlimnetError } = await import('./errors.ts');
  let dir: string | false;
  if (args['cache-dir'] !== undefined) dir = path.resolve(args['cache-dir']);
  else {
    const { DEFAULT_CONFIG_FILE } = await import('./load-config.ts');
    const configFile = args.config ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
    let configured: string | false | undefined;
    let baseDir = process.cwd();
    if (configFile) {
      const { loadConfig } = await import('./load-config.ts');
      // The config's cache folder as compress would resolve it (env and config key included).
      configured = (await loadConfig(configFile, {})).config.cacheDir;
      baseDir = path.dirname(path.resolve(configFile));
      dir = configured ?? false;
    } else dir = resolveCacheDir({}, baseDir, process.cwd());
  }
  if (!dir || !existsSync(dir)) {
    io.stdout(`cache ${dir || '(disabled)'}: nothing to prune\n`);
    return EXIT.ok;
  }
  let maxBytes: number | undefined;
  if (args['max-size'] !== undefined) {
    try {
      maxBytes = parseSize(args['max-size']);
    } catch {
      throw new SlimnetError('CONFIG_INVALID', '--max-size', `not a size: "${args['max-size']}"`, 'e.g. 2G, 500M, 1500000');
    }
  }
  const maxAgeDays = args['max-age'] ?? (maxBytes === undefined && !args.all ? 14 : undefined);
  const r = pruneCache(dir, { maxBytes, maxAgeDays, all: args.all, dryRun: args['dry-run'] });
  const mb = (b: number) => `${(b / 1024 ** 2).toFixed(1)} MB`;
  io.stdout(`cache ${path.relative(process.cwd(), dir) || dir}: ${args['dry-run'] ? 'would remove' : 'removed'} ${r.removed} entr${r.removed === 1 ? 'y' : 'ies'} (${mb(r.freedBytes)}), kept ${r.kept} (${mb(r.keptBytes)})\n`);
  return EXIT.ok;
}

interface TargetOutcome {
  target: string;
  report?: Report;
  outDir?: string;
  exitCode: number;
  error?: string;
}

async function compress(args: CompressArgs, io: CliIO, opts: MainOptions): Promise<number> {
  const display = createDisplay(io.progress, { env: io.env });
  const single = display.lane();
  const progress = single.line;
  if (opts.handleSignals) {
    // Exiting (rather than dying on the signal) runs the clean-up of the run's scratch folder.
    process.once('SIGINT', () => interrupted(display, 'SIGINT', 130));
    process.once('SIGTERM', () => interrupted(display, 'SIGTERM', 143));
  }
  // Libraries (tfjs among them) print to console.log; with --json, stdout carries only the report.
  const consoleLog = console.log;
  if (args.json) console.log = (...a: unknown[]) => console.error(...a);
  try {
    const { loadTargets } = await import('./load-config.ts');
    const { parseShard } = await import('./targets.ts');
    const shard = args.shard !== undefined ? parseShard(args.shard) : undefined;
    const { runs, all } = await loadTargets(args.config, args, { target: args.target, shard });
    if (runs.length === 0) {
      progress(`shard ${args.shard}: no target falls in this slice (${all.length} target${all.length === 1 ? '' : 's'} in all)`);
      if (args.json) io.stdout(JSON.stringify(all.length ? { targets: {} } : null) + '\n');
      return EXIT.ok;
    }
    const { default: PQueue } = await import('p-queue');
    const queue = new PQueue({ concurrency: Math.max(1, Math.floor(args.concurrency)) });
    const outcomes = await Promise.all(runs.map((run) => queue.add(async (): Promise<TargetOutcome> => {
      const lane = run.target && runs.length > 1 ? display.lane(run.target) : single;
      try {
        // A run whose inputs are unchanged is replayed without loading tfjs, onnxruntime or any stage.
        const { tryReplay } = await import('./cache/replay.ts');
        const result = (await tryReplay(run.config, { force: args.force, log: lane.line })) ??
          await (await import('./runner.ts')).runPipeline(run.config, { progress: lane, force: args.force });
        if ('failure' in result && result.failure) io.stderr(`slimnet: ${run.target ? `[${run.target}] ` : ''}${result.failure}\n`);
        return { target: run.target ?? '', report: result.report, outDir: result.outDir, exitCode: result.exitCode };
      } catch (e) {
        if (!isSlimnetError(e) || runs.length === 1) throw e;
        io.stderr(`[${run.target}] ${e.oneLine()}\n`);
        return { target: run.target!, exitCode: EXIT.badInput, error: e.oneLine() };
      } finally {
        if (lane !== single) lane.end();
      }
    })));
    display.close();
    if (args.json) {
      const json = runs.length === 1 && !runs[0]!.target ? outcomes[0]!.report : { targets: Object.fromEntries(outcomes.map((o) => [o.target, o.report ?? null])) };
      io.stdout(JSON.stringify(json, null, 2) + '\n');
    }
    if (outcomes.length === 1 && outcomes[0]!.report) {
      progress(summarize(outcomes[0]!.report));
      io.stderr(runSummary(outcomes[0]!.report) + '\n');
    } else io.stderr(targetsSummary(outcomes) + '\n');
    for (const o of outcomes) {
      if (o.outDir) progress(`report: ${path.relative(process.cwd(), path.join(o.outDir, 'report.json'))}${o.target ? ` [${o.target}]` : ''} (exit ${o.exitCode})`);
    }
    return Math.max(...outcomes.map((o) => o.exitCode));
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
    display.close();
    console.log = consoleLog;
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

function interrupted(display: { close(): void }, signal: string, code: number): never {
  display.close();
  process.stderr.write(`slimnet: interrupted (${signal}); nothing was written to the output folder\n`);
  process.exit(code);
}


if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(hideBin(process.argv), PROCESS_IO, { handleSignals: true });
}
