/**
 * One `prune` bench run in its own process (so the parent can read its peak RSS with /usr/bin/time -v):
 *
 *   tsx bench/prune-child.ts run <example|resnet|mobilenet> <workdir> [<fixture dir>]
 *   tsx bench/prune-child.ts prepare-mobilenet <fixture dir>
 *
 * `run` runs the model's pipeline with only the `prune` stage, the stage cache off, into <workdir>/out (the report
 * is read by the parent). `prepare-mobilenet` builds the MobileNetV2 input (bench/mobilenet-fixture.ts: trained
 * once, then kept in the fixture folder) in a process of its own, so its cost is not counted in the prune run.
 */
import { join, resolve } from 'node:path';
import { loadConfig } from '../pipeline/load-config.ts';
import { initEngine } from '../pipeline/engine.ts';
import { validateConfig, type ResolvedConfig } from '../pipeline/config.ts';
import { runPipeline } from '../pipeline/runner.ts';
import { loadMobileNetBenchData, MOBILENET_BENCH, prepareMobileNetBench } from './mobilenet-fixture.ts';

const ROOT = resolve(import.meta.dirname, '..');

export type PruneBenchModel = 'example' | 'resnet' | 'mobilenet';

/**
 * The MobileNetV2 run's prune options (README, "Memory and time", runs D–E): budgets of work sized for a 224×224
 * network on 2 cores (each candidate evaluation and each fine-tuning sample costs ~300× the example's), everything
 * else at its default. 30 evaluations: the sensitivity analysis gets 15, so it measures the 15 groups holding the
 * most parameters (the other 10 hold ~3% of them and keep their channels) at ratio 0.25 on 64 samples; the ladder
 * and its refinement get the rest. Reconstruction from 128 calibration images in the default 8 passes: 2 passes
 * (consecutive consumers fitted on inputs their upstream fits had not corrected yet) took a quarter of the top's
 * channels from 88.8% to 84.4% where 8 passes gave 87.8%. No progressive steps and a short final fine-tune: a
 * fine-tuning sample costs ~1 s here.
 */
export const MOBILENET_PRUNE_OPTIONS = {
  calibrationSamples: 128,
  sensitivitySamples: 64,
  sensitivityRatios: [0.25],
  maxCandidates: 30,
  fineTune: { samples: 128 },
  progressive: false,
};

async function configFor(model: PruneBenchModel, workdir: string, fixture: string): Promise<ResolvedConfig> {
  const out = join(workdir, 'out');
  if (model === 'mobilenet') {
    return validateConfig({
      name: 'mobilenet-v2', model: join(fixture, 'model', 'model.json'), out, cacheDir: false,
      data: { source: 'arrays', load: () => loadMobileNetBenchData(fixture) },
      // 205 validation images: 3 points of budget is 6 images, all of it for prune.
      validationFraction: 0.2, budget: { maxAccuracyDrop: 0.03 },
      stages: [{ name: 'prune', options: MOBILENET_PRUNE_OPTIONS }],
    }, 'bench (mobilenet)');
  }
  const file = model === 'example' ? join(ROOT, 'pipeline.config.ts') : join(ROOT, 'examples', 'fashion-resnet', 'pipeline.config.ts');
  const { config } = await loadConfig(file, { stages: 'prune', out });
  return { ...config, cacheDir: false };
}

async function main(): Promise<void> {
  const [command, model, dir, fixture] = process.argv.slice(2);
  if (command === 'prepare-mobilenet' && model) {
    await initEngine('wasm');
    await prepareMobileNetBench(resolve(model), MOBILENET_BENCH, (line) => process.stderr.write(`${line}\n`));
    return;
  }
  if (command !== 'run' || !dir || !['example', 'resnet', 'mobilenet'].includes(model!)) {
    throw new Error('usage: prune-child.ts run <example|resnet|mobilenet> <workdir> [<fixture dir>] | prepare-mobilenet <fixture dir>');
  }
  const config = await configFor(model as PruneBenchModel, resolve(dir), resolve(fixture ?? dir));
  const result = await runPipeline(config, { log: (line) => process.stderr.write(`[${model}] ${line}\n`) });
  process.exitCode = result.exitCode;
}

await main();
