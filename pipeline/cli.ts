/**
 * The slimnet CLI: parses flags and hands each command to its module under commands/ (compress, init, inspect).
 * Kept thin so everything it does is callable from tests without it. Exit codes: 0 ok, 1 a requirement not met,
 * 2 bad input, config or flag, 3 a slimnet bug.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
// Commands load on use: --help and usage errors never load tfjs or the engines.
import type { CompressArgs } from './commands/compress.ts';
import type { InitArgs } from './commands/init.ts';
import type { InspectArgs } from './commands/inspect.ts';
import { EXIT, PROCESS_IO, type CliIO } from './commands/shared.ts';
import { TOOL } from './version.ts';

export { EXIT, PROCESS_IO, type CliIO };

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
      'Run the compression pipeline: measure, transform stage by stage behind the accuracy budget, export. Without a config file or --stages: every implemented stage.',
      (y) =>
        y
          .option('config', { type: 'string', describe: 'pipeline config file (default ./pipeline.config.ts when present); "none": ignore one in the current folder' })
          .option('model', { type: 'string', describe: 'input model: TF.js model.json, Keras .keras (file or folder) or .h5 (overrides the config)' })
          .option('data', { type: 'string', describe: 'IDX dataset folder (overrides the config\'s data)' })
          .option('data-scale', { type: 'string', describe: 'input = raw · scale + offset (default 1/255 for 8-bit images, else 1)' })
          .option('data-offset', { type: 'string', describe: 'input = raw · scale + offset (default 0)' })
          .option('validation-data', { type: 'string', describe: 'a separate held-out validation set: IDX folder with one images/labels pair (default: carved from train)' })
          .option('out', { type: 'string', describe: 'output folder (default artifacts/<run name>); only a new, empty or slimnet-created folder is replaced' })
          .option('force', { type: 'boolean', default: false, describe: 'replace --out even if files were added to it (only ever a folder slimnet created)' })
          .option('stages', { type: 'string', describe: 'comma list of stages to run, in order (default: the config\'s, else every implemented stage)' })
          .option('formats', { type: 'string', describe: 'export formats, comma list (sets the export stage\'s formats)' })
          .option('max-accuracy-drop', { type: 'string', describe: 'budget: allowed drop of validation accuracy, a fraction (0.01) or percentage (1%); default 0.01' })
          .option('limit', { type: 'string', describe: 'quick run on a seeded sample: N per split, or train=N,validation=N,test=N' })
          .option('backend', { type: 'string', choices: ['auto', 'wasm', 'tfjs-node', 'cpu'], describe: 'tfjs backend (auto: tfjs-node if it loads, else wasm)' })
          .option('seed', { type: 'string', describe: 'seed for the stages\' random choices (default 42); the validation split has its own (validationSeed)' })
          .option('cache', { type: 'boolean', describe: 'use the stage cache (default on); --no-cache neither reads nor writes it' })
          .option('dry-run', { type: 'boolean', default: false, describe: 'print the resolved config, stages, floors and what the cache would serve; run and write nothing' })
          .option('json', { type: 'boolean', default: false, describe: 'print report.json (with --dry-run: the plan) on stdout; progress goes to stderr' })
          .option('verbose', { type: 'boolean', default: false, describe: 'stack traces and more detail on errors' }),
      async (args) => {
        exitCode = await (await import('./commands/compress.ts')).compress(args, io, opts, argv);
      },
    )
    .command<InitArgs>(
      'init',
      'Write a commented pipeline.config.ts for a model and its data (every stage and option, defaults shown).',
      (y) =>
        y
          .option('model', { type: 'string', describe: 'the trained model: TF.js model.json, Keras .keras or .h5' })
          .option('data', { type: 'string', describe: 'IDX dataset folder' })
          .option('validation-data', { type: 'string', describe: 'a separate held-out validation IDX folder (optional)' })
          .option('config', { type: 'string', describe: 'the file to write (default ./pipeline.config.ts)' })
          .option('force', { type: 'boolean', default: false, describe: 'replace the file if it exists' })
          .option('verbose', { type: 'boolean', default: false, describe: 'stack traces on errors' }),
      async (args) => {
        exitCode = await (await import('./commands/init.ts')).init(args, io);
      },
    )
    .command<InspectArgs>(
      'inspect <model>',
      'Print a model\'s layers, params, MACs, input/output, prunable channel groups and which export formats cover it. Writes nothing.',
      (y) =>
        y
          .positional('model', { type: 'string', demandOption: true, describe: 'TF.js model.json, Keras .keras (file or folder) or .h5' })
          .option('json', { type: 'boolean', default: false, describe: 'print the inspection as JSON' })
          .option('verbose', { type: 'boolean', default: false, describe: 'stack traces on errors' }),
      async (args) => {
        exitCode = await (await import('./commands/inspect.ts')).inspect(args, io);
      },
    )
    .demandCommand(1, 'name a command: slimnet compress | init | inspect (--help for each)')
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

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(hideBin(process.argv), PROCESS_IO, { supervise: true });
}
