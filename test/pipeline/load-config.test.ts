import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { SlimnetError } from '../../pipeline/errors.ts';
import { loadConfig } from '../../pipeline/load-config.ts';
import { DEFAULT_STAGES } from '../../stages/index.ts';

const configModule = pathToFileURL(path.resolve('pipeline/config.ts')).href;

function project(configSource?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-cfg-'));
  if (configSource !== undefined) writeFileSync(path.join(dir, 'pipeline.config.ts'), configSource);
  return dir;
}

const typedConfig = `import { defineConfig } from '${configModule}';
export default defineConfig({
  model: 'models/m/model.json',
  data: { source: 'idx', dir: 'data' },
  stages: ['export', { name: 'prune', options: { ratio: 0.5 } }],
});
`;

test('loads a typed config and resolves paths against its folder', async () => {
  const dir = project(typedConfig);
  const { config, file } = await loadConfig(undefined, {}, dir);
  assert.equal(file, path.join(dir, 'pipeline.config.ts'));
  assert.equal(config.model, path.join(dir, 'models/m/model.json'));
  assert.deepEqual(config.data, { source: 'idx', dir: path.join(dir, 'data') });
  assert.equal(config.name, 'm');
  assert.equal(config.out, path.join(dir, 'artifacts', 'm'));
});

test('flags override the config; --stages picks and orders, keeping configured options', async () => {
  const dir = project(typedConfig);
  const { config, origins } = await loadConfig(undefined, { stages: 'prune,export', maxAccuracyDrop: '0.05', seed: '7', out: 'o' }, dir);
  assert.deepEqual(config.stages.map((s) => s.name), ['prune', 'export']);
  assert.deepEqual(config.stages[0]!.options, { ratio: 0.5 });
  assert.deepEqual(origins.stages, { from: 'flag', detail: '--stages' });
  assert.deepEqual(origins.budget, { from: 'flag', detail: '--max-accuracy-drop' });
  assert.deepEqual(origins.out, { from: 'flag', detail: '--out' });
  assert.deepEqual(origins.config, { from: 'default', detail: 'found in the current folder', file: 'pipeline.config.ts' });
  assert.equal(config.budget.maxAccuracyDrop, 0.05);
  assert.equal(config.seed, 7);
  assert.equal(config.out, path.join(dir, 'o'));
});

test('without a config file, --model and --data are enough: every implemented stage runs, and the origins say so', async () => {
  const dir = project();
  const { config, file, origins } = await loadConfig(undefined, { model: 'x/model.json', data: 'idx' }, dir);
  assert.equal(file, undefined);
  assert.deepEqual(config.stages.map((s) => s.name), DEFAULT_STAGES);
  assert.ok(DEFAULT_STAGES.includes('prune') && DEFAULT_STAGES.includes('export'));
  assert.deepEqual(config.data, { source: 'idx', dir: path.join(dir, 'idx') });
  assert.deepEqual(origins.stages, { from: 'default', detail: 'every implemented stage' });
  assert.deepEqual(origins.budget, { from: 'default', detail: '' });
  assert.deepEqual(origins.config, { from: 'default', detail: 'no pipeline.config.ts in the current folder', file: undefined });
  assert.equal(config.validationSeed, 42);
});

test('--no-cache turns the stage cache off for the run; without it the cache folder stays', async () => {
  const dir = project();
  const withCache = await loadConfig(undefined, { model: 'x/model.json', data: 'idx' }, dir);
  assert.equal(typeof withCache.config.cacheDir, 'string');
  const without = await loadConfig(undefined, { model: 'x/model.json', data: 'idx', cache: false }, dir);
  assert.equal(without.config.cacheDir, false);
});

test('a config without stages runs every implemented stage; --config none ignores the folder\'s config', async () => {
  const dir = project(`export default { model: 'm/model.json', data: { source: 'mnist-package' } };\n`);
  const { config, origins } = await loadConfig(undefined, {}, dir);
  assert.deepEqual(config.stages.map((s) => s.name), DEFAULT_STAGES);
  assert.equal(origins.stages.from, 'default');
  const none = await loadConfig('none', { model: 'other/model.json', data: 'idx' }, dir);
  assert.equal(none.file, undefined);
  assert.equal(none.config.model, path.join(dir, 'other/model.json'));
  assert.deepEqual(none.origins.config, { from: 'flag', detail: '--config none', file: undefined });
  await assert.rejects(loadConfig('none', {}, dir), (e: unknown) => e instanceof SlimnetError && e.where === '--config none');
});

test('a bad flag value names the flag, not the config file', async () => {
  const dir = project(typedConfig);
  const where = async (o: Parameters<typeof loadConfig>[1]) => {
    try {
      await loadConfig(undefined, o, dir);
    } catch (e) {
      assert.ok(e instanceof SlimnetError, String(e));
      return `${e.where}: ${e.message}`;
    }
    return 'no error';
  };
  assert.match(await where({ maxAccuracyDrop: 'abc' }), /^--max-accuracy-drop: "abc" is not a number/);
  assert.match(await where({ maxAccuracyDrop: '1.5' }), /^--max-accuracy-drop: /);
  assert.match(await where({ seed: '-1' }), /^--seed: /);
  assert.match(await where({ seed: 'x' }), /^--seed: "x" is not a number/);
  assert.match(await where({ limit: 'train=0' }), /^--limit: /);
  assert.match(await where({ limit: 'tran=5' }), /^--limit: cannot read "tran=5"/);
  assert.match(await where({ formats: 'onnx,gguf' }), /^--formats: unknown format "gguf"/);
  assert.match(await where({ stages: 'prune', formats: 'onnx' }), /^--formats: the export stage is not in this run/);
  assert.match(await where({ stages: 'prune,distill' }), /^--stages: unknown stage "distill"/);
  // A bad value in the file still names the file and key.
  const bad = project(typedConfig.replace("stages:", "budget: { maxAccuracyDrop: 'abc' },\n  stages:"));
  await assert.rejects(loadConfig(undefined, {}, bad), (e: unknown) => e instanceof SlimnetError && e.where === 'pipeline.config.ts: budget.maxAccuracyDrop');
});

test('--max-accuracy-drop takes a percentage; --limit one number or per split; --formats sets the export stage\'s formats', async () => {
  const dir = project(typedConfig);
  const { config } = await loadConfig(undefined, { maxAccuracyDrop: '2%', limit: '500', formats: 'onnx' }, dir);
  assert.equal(config.budget.maxAccuracyDrop, 0.02);
  assert.deepEqual(config.evaluation.limit, { train: 500, validation: 500, test: 500 });
  assert.deepEqual(config.stages.find((s) => s.name === 'export')!.options, { formats: ['onnx'] });
  const split = await loadConfig(undefined, { limit: 'train=100,test=20' }, dir);
  assert.deepEqual(split.config.evaluation.limit, { train: 100, test: 20 });
});

test('--validation-data names a separate held-out set, resolved against the current folder', async () => {
  const dir = project(typedConfig);
  const { config, origins } = await loadConfig(undefined, { validationData: 'val' }, dir);
  assert.deepEqual(config.data, { source: 'idx', dir: path.join(dir, 'data'), validation: { source: 'idx', dir: path.join(dir, 'val') } });
  assert.deepEqual(origins.validation, { from: 'flag', detail: '--validation-data' });
});

test('--data-scale and --data-offset set data.scale / data.offset on the configured or flagged source', async () => {
  const dir = project();
  const { config } = await loadConfig(undefined, { model: 'x/model.json', data: 'idx', dataScale: 1, dataOffset: -0.5 }, dir);
  assert.deepEqual(config.data, { source: 'idx', dir: path.join(dir, 'idx'), scale: 1, offset: -0.5 });
  // A bad flag value is blamed on the flag (a bad data.scale in a config file names the key).
  await assert.rejects(loadConfig(undefined, { model: 'x/model.json', data: 'idx', dataScale: 0 }, dir),
    (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && e.where === '--data-scale');
});

test('no config and no flags names the missing file', async () => {
  const dir = project();
  await assert.rejects(loadConfig(undefined, {}, dir), (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_NOT_FOUND');
});

test('a missing --config file, a config without default export, and an unknown --stages entry are named', async () => {
  const dir = project('export const x = 1;\n');
  await assert.rejects(loadConfig('nope.config.ts', {}, dir), (e: unknown) => e instanceof SlimnetError && e.where === 'nope.config.ts');
  await assert.rejects(loadConfig(undefined, {}, dir), (e: unknown) => e instanceof SlimnetError && /default export/.test(e.message));
  const ok = project(typedConfig);
  await assert.rejects(loadConfig(undefined, { stages: 'export,shrink' }, ok), (e: unknown) => e instanceof SlimnetError && e.where === '--stages');
});

test('a config that does not compile is reported against the file', async () => {
  const dir = project('export default {{{\n');
  await assert.rejects(loadConfig(undefined, {}, dir), (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && e.where.endsWith('pipeline.config.ts'));
});
