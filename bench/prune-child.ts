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
 * The MobileNetV2 run's prune options (README, "Memory and time", runs A–C): budgets of work sized for a 224×224
 * network on 2 cores (each candidate evaluation and each fine-tuning sample costs ~300× the example's), everything
 * else at its default; sensitivity at ratio 0.25 (0.5 left ~70% after any single group's cut). Measured:
 * reconstruction from 128 calibration images in 8 passes took ~35 s of each candidate's ~41 s; 32 images in 2
 * passes were fast but too weak (×0.85 of the params: 44% instead of 79% validation accuracy after reconstruction),
 * so 128 images in at most 2 passes. 56 evaluations: half of them (28) give each of the 25 groups one sensitivity
 * point. No progressive steps: on this model (random convolutional features under a linear probe) every short
 * fine-tune lowered validation accuracy (56.6% → 42.0% after 128 samples) at ~2 samples/s, so the one-shot search
 * decides and the final fine-tune is short (recovery discards it when it does not help).
 */
export const MOBILENET_PRUNE_OPTIONS = {
  calibrationSamples: 128,
  reconstructionPasses: 2,
  sensitivitySamples: 64,
  sensitivityRatios: [0.25],
  maxCandidates: 56,
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
