import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { SlimnetError } from '../../pipeline/errors.ts';
import { loadConfig } from '../../pipeline/load-config.ts';

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
  stages: ['export', { name: 'quantize', options: { bits: 8 } }],
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
  const { config } = await loadConfig(undefined, { stages: 'quantize,export', maxAccuracyDrop: 0.05, seed: 7, out: 'o' }, dir);
  assert.deepEqual(config.stages.map((s) => s.name), ['quantize', 'export']);
  assert.deepEqual(config.stages[0]!.options, { bits: 8 });
  assert.equal(config.budget.maxAccuracyDrop, 0.05);
  assert.equal(config.seed, 7);
  assert.equal(config.out, path.join(dir, 'o'));
});

test('without a config file, --model and --data are enough', async () => {
  const dir = project();
  const { config, file } = await loadConfig(undefined, { model: 'x/model.json', data: 'idx' }, dir);
  assert.equal(file, undefined);
  assert.deepEqual(config.stages.map((s) => s.name), ['export']);
  assert.deepEqual(config.data, { source: 'idx', dir: path.join(dir, 'idx') });
});

test('--data-scale and --data-offset set data.scale / data.offset on the configured or flagged source', async () => {
  const dir = project();
  const { config } = await loadConfig(undefined, { model: 'x/model.json', data: 'idx', dataScale: 1, dataOffset: -0.5 }, dir);
  assert.deepEqual(config.data, { source: 'idx', dir: path.join(dir, 'idx'), scale: 1, offset: -0.5 });
  await assert.rejects(loadConfig(undefined, { model: 'x/model.json', data: 'idx', dataScale: 0 }, dir),
    (e: unknown) => e instanceof SlimnetError && e.code === 'CONFIG_INVALID' && /data\.scale/.test(e.oneLine()));
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
