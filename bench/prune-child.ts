/**
 * One `prune` bench run in its own process (so the parent can read its peak RSS with /usr/bin/time -v):
 *
 *   tsx bench/prune-child.ts run <example|resnet|mobilenet> <workdir>
 *   tsx bench/prune-child.ts prepare-mobilenet <workdir>
 *
 * `run` runs the model's pipeline with only the `prune` stage, the stage cache off, into <workdir>/out (the report
 * is read by the parent). `prepare-mobilenet` builds the MobileNetV2 input (bench/mobilenet-fixture.ts) first, in
 * a process of its own, so its cost is not counted in the prune run.
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
 * The MobileNetV2 run's prune options: budgets of work sized for a 224×224 network on 2 cores (each candidate
 * evaluation and each fine-tuning sample costs ~300× the example's), everything else at its default. Reconstruction
 * dominated the first measured run (8 passes of 128 images through the whole network per candidate, ~35 s each):
 * 32 images in at most 2 passes keep a candidate at a few seconds. 56 evaluations: half of them (28) give each of the
 * 25 groups one sensitivity point.
 */
export const MOBILENET_PRUNE_OPTIONS = {
  calibrationSamples: 32,
  reconstructionPasses: 2,
  sensitivitySamples: 64,
  maxCandidates: 56,
  fineTune: { samples: 256 },
  progressive: { steps: 2, fineTuneSamples: 128 },
};

async function configFor(model: PruneBenchModel, workdir: string): Promise<ResolvedConfig> {
  const out = join(workdir, 'out');
  if (model === 'mobilenet') {
    return validateConfig({
      name: 'mobilenet-v2', model: join(workdir, 'model', 'model.json'), out, cacheDir: false,
      data: { source: 'arrays', load: () => loadMobileNetBenchData(workdir) },
      // A weak task (a linear probe on random features, ~45% accuracy) measured on 205 validation images: 3 points
      // of budget is 6 images, all of it for prune.
      validationFraction: 0.2, budget: { maxAccuracyDrop: 0.03 },
      stages: [{ name: 'prune', options: MOBILENET_PRUNE_OPTIONS }],
    }, 'bench (mobilenet)');
  }
  const file = model === 'example' ? join(ROOT, 'pipeline.config.ts') : join(ROOT, 'examples', 'fashion-resnet', 'pipeline.config.ts');
  const { config } = await loadConfig(file, { stages: 'prune', out });
  return { ...config, cacheDir: false };
}

async function main(): Promise<void> {
  const [command, model, dir] = process.argv.slice(2);
  if (command === 'prepare-mobilenet' && model) {
    await initEngine('wasm');
    await prepareMobileNetBench(resolve(model), MOBILENET_BENCH, (line) => process.stderr.write(`${line}\n`));
    return;
  }
  if (command !== 'run' || !dir || !['example', 'resnet', 'mobilenet'].includes(model!)) {
    throw new Error('usage: prune-child.ts run <example|resnet|mobilenet> <workdir> | prepare-mobilenet <workdir>');
  }
  const config = await configFor(model as PruneBenchModel, resolve(dir));
  const result = await runPipeline(config, { log: (line) => process.stderr.write(`[${model}] ${line}\n`) });
  process.exitCode = result.exitCode;
}

await main();
