/**
 * `slimnet compress`: load the config (file and/or flags), say what will run and where each setting came from,
 * then run the pipeline — or, with --dry-run, print the plan and write nothing. A config with `targets` runs each
 * selected target (--target, --shard) through a p-queue (--concurrency), each into its own folder.
 */
import path from 'node:path';
import type { ResolvedConfig } from '../config.ts';
import type { ConfigOrigins, ConfigOverrides, LoadedTargets, Origin } from '../load-config.ts';
import type { Report } from '../report.ts';
import { verdictLine } from '../report-verdict.ts';
import { isSlimnetError } from '../errors.ts';
import { createDisplay, type Display, type Lane } from '../progress/display.ts';
import { runSummary, targetsSummary } from '../summary.ts';
import { printPlan } from './dry-run.ts';
import { EXIT, num, pct, runCommand, type CliIO } from './shared.ts';

export interface CompressArgs extends ConfigOverrides {
  config?: string;
  force: boolean;
  json: boolean;
  verbose: boolean;
  dryRun: boolean;
  /** Run only these targets of the config (comma list). */
  target?: string;
  /** `i/n`: the i-th of n deterministic slices of the targets. */
  shard?: string;
  /** Targets run at once. */
  concurrency: number;
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
  // A dry run writes nothing and needs no supervisor; nor does a run replayed from the cache (file copies, which
  // leave the event loop free for a signal): it is done here, without starting a child that loads tfjs.
  let loaded: LoadedTargets | undefined;
  if (opts.supervise && !child && !args.dryRun) {
    // Inputs named by flags are checked before the child starts and loads the engines: a bad manifest, shard or
    // IDX header is refused in a fraction of a second (the child checks them again as it reads, with the rest).
    // So are a config's own errors and the inputs it names (the child would find the same, seconds later).
    const refused = await runCommand(io, args, async () => {
      const { preflightInputs, preflightRunInputs } = await import('../preflight.ts');
      await preflightInputs(args);
      loaded = await loadedOrChildDecides(args);
      for (const run of loaded?.runs ?? []) await preflightRunInputs(run.config);
      return 0;
    });
    if (refused !== 0) return refused;
    loaded = loaded && (await replayable(loaded)) ? loaded : undefined;
    if (!loaded) return superviseCompress(argv, io.stderr);
  }
  const releaseSupervisor = child || opts.supervise ? installChildSignalHandlers() : undefined;
  // The child draws on the inherited terminal itself; its lines also tell the supervisor where an interrupt stopped it.
  const display = createDisplay(io.progress, { env: io.env });
  try {
    return await runCompress(args, io, display, child ? reportProgress : undefined, loaded);
  } finally {
    display.close();
    releaseSupervisor?.();
  }
}

function selectedTargets(args: CompressArgs): Promise<LoadedTargets> {
  return import('../load-config.ts').then(async ({ loadTargets }) => {
    const { parseShard } = await import('../targets.ts');
    return loadTargets(args.config, args, { target: args.target, shard: args.shard !== undefined ? parseShard(args.shard) : undefined });
  });
}

/**
 * The runs this command line selects; a config error (a SlimnetError: one line, exit 2) is thrown here. Anything
 * else that goes wrong while loading is left to the child, which reports it the way a run does.
 */
async function loadedOrChildDecides(args: CompressArgs): Promise<LoadedTargets | undefined> {
  try {
    return await selectedTargets(args);
  } catch (e) {
    if (isSlimnetError(e)) throw e;
    return undefined;
  }
}

/** Whether every run can be replayed from the cache; any doubt (even an error) says no. */
async function replayable(loaded: LoadedTargets): Promise<boolean> {
  try {
    const { canReplay } = await import('../cache/replay.ts');
    for (const run of loaded.runs) if (!(await canReplay(run.config))) return false;
    return loaded.runs.length > 0;
  } catch {
    return false;
  }
}

interface TargetOutcome {
  target: string;
  report?: Report;
  outDir?: string;
  exitCode: number;
  error?: string;
}

/** `lane` with every line and activity also passed to `tell` (the supervisor). */
function told(lane: Lane, tell: ((message: string) => void) | undefined): Lane {
  if (!tell) return lane;
  return { ...lane, line: (m) => { lane.line(m); tell(m); }, activity: (m) => { lane.activity(m); tell(m); } };
}

/** `loaded`: the runs, when the caller has loaded them already (a replay decided in the supervising process). */
function runCompress(args: CompressArgs, io: CliIO, display: Display, tell: ((message: string) => void) | undefined, loaded?: LoadedTargets): Promise<number> {
  return runCommand(io, args, async () => {
    const single = told(display.lane(), tell);
    const progress = single.line;
    const { runs, all, origins } = loaded ?? (await selectedTargets(args));
    if (runs.length === 0) {
      progress(`shard ${args.shard}: no target falls in this slice (${all.length} target${all.length === 1 ? '' : 's'} in all)`);
      if (args.json) io.stdout(JSON.stringify(all.length ? { targets: {} } : null) + '\n');
      return 0;
    }
    const targeted = runs.length > 1 || !!runs[0]!.target;
    progress(startupLine(runs[0]!.config, origins) + (targeted ? `; targets ${runs.map((r) => r.target).join(', ')} of ${all.join(', ')}` : ''));
    const largeBudget = budgetWarning(runs[0]!.config, origins, args.maxAccuracyDrop);
    if (largeBudget) progress(largeBudget);
    if (args.dryRun) {
      const { planPipeline } = await import('../plan.ts');
      const plans: Array<Awaited<ReturnType<typeof planPipeline>>> = [];
      for (const run of runs) {
        const plan = await planPipeline(run.config, { force: args.force });
        plans.push(plan);
        if (!args.json) io.stdout((run.target ? `target ${run.target}:\n` : '') + printPlan(plan, origins));
      }
      if (args.json) io.stdout(JSON.stringify(targeted ? { targets: Object.fromEntries(runs.map((r, i) => [r.target, plans[i]])) } : plans[0], null, 2) + '\n');
      return 0;
    }
    const { default: PQueue } = await import('p-queue');
    const queue = new PQueue({ concurrency: Math.max(1, Math.floor(args.concurrency)) });
    const outcomes = await Promise.all(runs.map((run) => queue.add(async (): Promise<TargetOutcome> => {
      const lane = run.target && runs.length > 1 ? told(display.lane(run.target), tell) : single;
      try {
        // A run whose inputs are unchanged is replayed without loading tfjs, onnxruntime or any stage.
        const { tryReplay } = await import('../cache/replay.ts');
        const result = (await tryReplay(run.config, { force: args.force, log: lane.line })) ??
          await (await import('../runner.ts')).runPipeline(run.config, { progress: lane, force: args.force });
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
      const json = targeted ? { targets: Object.fromEntries(outcomes.map((o) => [o.target, o.report ?? null])) } : outcomes[0]!.report;
      io.stdout(JSON.stringify(json, null, 2) + '\n');
    }
    if (!targeted && outcomes[0]!.report) {
      const report = outcomes[0]!.report;
      progress(summarize(report));
      io.stderr(runSummary(report) + '\n');
      progress(`verdict: ${verdictLine(report)}`);
    } else io.stderr(targetsSummary(outcomes) + '\n');
    for (const o of outcomes) {
      if (o.outDir) progress(`report: ${shown(path.join(o.outDir, 'report.json'))}${o.target ? ` [${o.target}]` : ''} (exit ${o.exitCode})`);
    }
    return Math.max(...outcomes.map((o) => o.exitCode));
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

/** A budget this large (20 points or more) is more often points typed as a fraction: 0.5 meant as half a point. */
const LARGE_BUDGET = 0.2;

/**
 * One warning line when the budget, given without `%`, allows a drop of 20 points or more: `--max-accuracy-drop 0.5`
 * is a fraction, 50 points. It only warns (a large budget may be meant); a value with `%` says what it means.
 */
export function budgetWarning(config: ResolvedConfig, origins: ConfigOrigins, flagValue?: number | string): string | undefined {
  const drop = config.budget.maxAccuracyDrop;
  const text = String(flagValue ?? '').trim();
  if (drop < LARGE_BUDGET || origins.budget.from === 'default' || (origins.budget.from === 'flag' && text.endsWith('%'))) return undefined;
  const points = +(drop * 100).toFixed(4);
  const means = `is a fraction: it lets validation accuracy fall by ${points} points; for ${drop} points write`;
  return origins.budget.from === 'flag'
    ? `warning: --max-accuracy-drop ${text} ${means} ${drop}% (or ${+(drop / 100).toPrecision(6)})`
    : `warning: ${origins.budget.detail}: budget.maxAccuracyDrop ${drop} ${means} ${+(drop / 100).toPrecision(6)}`;
}

/** One line: what the run did to the model, baseline → final. */
function summarize(report: Report): string {
  const { baseline: b, final: f } = report;
  const times = (a: number, z: number) => (z > 0 && a !== z ? ` (${(a / z).toFixed(2)}× fewer)` : '');
  return `result: params ${num(b.params)} → ${num(f.params)}${times(b.params, f.params)}, bytes ${num(b.bytes)} → ${num(f.bytes)}, ` +
    `MACs ${num(b.macs)} → ${num(f.macs)}, val ${pct(b.valAccuracy)} → ${pct(f.valAccuracy)}, test ${pct(b.testAccuracy)} → ${pct(f.testAccuracy)}`;
}

