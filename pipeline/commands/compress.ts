/**
 * `slimnet compress`: load the config (file and/or flags), say what will run and where each setting came from,
 * then run the pipeline — or, with --dry-run, print the plan and write nothing.
 */
import path from 'node:path';
import type { ResolvedConfig } from '../config.ts';
import type { ConfigOrigins, ConfigOverrides, Origin } from '../load-config.ts';
import type { Report } from '../report.ts';
import { verdictLine } from '../report-verdict.ts';
import { num, pct, progressPrinter, runCommand, type CliIO } from './shared.ts';

export interface CompressArgs extends ConfigOverrides {
  config?: string;
  force: boolean;
  json: boolean;
  verbose: boolean;
  dryRun: boolean;
}

export interface CompressOptions {
  /**
   * The real command line (bin/slimnet.js): run a compression in a supervised child process, which SIGINT/SIGTERM
   * stop within a second whatever it is doing (pipeline/supervisor.ts). In-process callers handle their own signals.
   */
  supervise?: boolean;
}

export async function compress(args: CompressArgs, io: CliIO, opts: CompressOptions, argv: string[]): Promise<number> {
  const { installChildSignalHandlers, isSupervisedChild, reportProgress, superviseCompress } = await import('../supervisor.ts');
  const child = isSupervisedChild();
  // A dry run writes nothing and needs no supervisor.
  if (opts.supervise && !child && !args.dryRun) {
    // Inputs named by flags are checked before the child starts and loads the engines: a bad manifest, shard or
    // IDX header is refused in a fraction of a second (the child checks them again as it reads, with the rest).
    const refused = await runCommand(io, args, async () => {
      await (await import('../preflight.ts')).preflightInputs(args);
      return 0;
    });
    return refused !== 0 ? refused : superviseCompress(argv, io.stderr);
  }
  const releaseSupervisor = child ? installChildSignalHandlers() : undefined;
  const print = progressPrinter(io);
  const progress = child ? (message: string) => { print(message); reportProgress(message); } : print;
  try {
    return await runCompress(args, io, progress);
  } finally {
    releaseSupervisor?.();
  }
}

function runCompress(args: CompressArgs, io: CliIO, progress: (message: string) => void): Promise<number> {
  return runCommand(io, args, async () => {
    const { loadConfig } = await import('../load-config.ts');
    const { config, origins } = await loadConfig(args.config, args);
    progress(startupLine(config, origins));
    if (args.dryRun) {
      const [{ planPipeline }, { printPlan }] = await Promise.all([import('../plan.ts'), import('./dry-run.ts')]);
      const plan = await planPipeline(config, { force: args.force });
      if (args.json) io.stdout(JSON.stringify(plan, null, 2) + '\n');
      else io.stdout(printPlan(plan, origins));
      return 0;
    }
    const { runPipeline } = await import('../runner.ts');
    const result = await runPipeline(config, { log: progress, force: args.force });
    if (args.json) io.stdout(JSON.stringify(result.report, null, 2) + '\n');
    if (result.failure) io.stderr(`slimnet: ${result.failure}\n`);
    progress(summarize(result.report));
    progress(`verdict: ${verdictLine(result.report)}`);
    progress(`report: ${shown(path.join(result.outDir, 'report.json'))} (exit ${result.exitCode})`);
    return result.exitCode;
  });
}

const shown = (p: string) => path.relative(process.cwd(), p) || '.';

function origin(o: Origin): string {
  if (o.from === 'default') return o.detail ? `[default: ${o.detail}]` : '[default]';
  return o.from === 'flag' ? `[${o.detail}]` : `[config ${o.detail}]`;
}

/**
 * The line a run opens with: which stages, budget, output folder and validation it uses, and where each came from,
 * so a config picked up from the current folder (or a default) is never a surprise.
 */
export function startupLine(config: ResolvedConfig, origins: ConfigOrigins): string {
  const v = config.data.validation;
  const validation = v
    ? `separate set ${v.source === 'idx' ? shown(v.dir) : 'from data.validation.load()'}`
    : `${+(config.validationFraction * 100).toFixed(2)}% carved from train, validationSeed ${config.validationSeed}`;
  const file = origins.config.file;
  return [
    `stages ${config.stages.map((s) => s.name).join(' → ') || '(none)'} ${origin(origins.stages)}`,
    `budget ${(config.budget.maxAccuracyDrop * 100).toFixed(2)} pt validation-accuracy drop ${origin(origins.budget)}`,
    `output ${shown(config.out!)} ${origin(origins.out)}`,
    `validation ${validation} ${origin(origins.validation)}`,
    `config ${file ?? 'none'} [${origins.config.detail}]`,
  ].join('; ');
}

/** One line: what the run did to the model, baseline → final. */
function summarize(report: Report): string {
  const { baseline: b, final: f } = report;
  const times = (a: number, z: number) => (z > 0 && a !== z ? ` (${(a / z).toFixed(2)}× fewer)` : '');
  return `result: params ${num(b.params)} → ${num(f.params)}${times(b.params, f.params)}, bytes ${num(b.bytes)} → ${num(f.bytes)}, ` +
    `MACs ${num(b.macs)} → ${num(f.macs)}, val ${pct(b.valAccuracy)} → ${pct(f.valAccuracy)}, test ${pct(b.testAccuracy)} → ${pct(f.testAccuracy)}`;
}

