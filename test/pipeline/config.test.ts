import assert from 'node:assert/strict';
import { test } from 'node:test';
import { validateConfig } from '../../pipeline/config.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { resolveStages } from '../../pipeline/runner.ts';
import { STAGE_NAMES } from '../../pipeline/stage.ts';
import { STAGES } from '../../stages/index.ts';

const base = { model: 'm/model.json', data: { source: 'idx', dir: 'd' }, stages: ['export'] };

function errorOf(fn: () => unknown): SlimnetError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof SlimnetError, `expected SlimnetError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected an error');
}

test('defaults are filled in', () => {
  const c = validateConfig(base, 'cfg.ts');
  assert.equal(c.budget.maxAccuracyDrop, 0.01);
  assert.equal(c.seed, 42);
  assert.equal(c.validationFraction, 0.1);
  assert.equal(c.backend, 'auto');
  assert.deepEqual(c.stages, [{ name: 'export', options: {}, onBudgetMiss: 'reject' }]);
});

test('an unknown top-level key is named', () => {
  const e = errorOf(() => validateConfig({ ...base, budjet: {} }, 'cfg.ts'));
  assert.equal(e.code, 'CONFIG_INVALID');
  assert.match(e.oneLine(), /cfg\.ts.*unknown key "budjet"/);
});

test('a key a former version accepted names its replacement', () => {
  const e = errorOf(() => validateConfig({ ...base, evaluation: { latencySamples: 50 } }, 'cfg.ts'));
  assert.match(e.oneLine(), /cfg\.ts: evaluation: unknown key "latencySamples".*use evaluation\.latency \{ batchSizes/);
});

test('a wrong type names the nested key', () => {
  const e = errorOf(() => validateConfig({ ...base, budget: { maxAccuracyDrop: 'a lot' } }, 'cfg.ts'));
  assert.equal(e.where, 'cfg.ts: budget.maxAccuracyDrop');
});

test('an unknown stage name is named with its index', () => {
  const e = errorOf(() => validateConfig({ ...base, stages: ['export', 'shrink'] }, 'cfg.ts'));
  assert.equal(e.where, 'cfg.ts: stages[1]');
});

test('a stage listed twice is an error', () => {
  const e = errorOf(() => validateConfig({ ...base, stages: ['export', { name: 'export' }] }, 'cfg.ts'));
  assert.match(e.message, /listed twice/);
});

test('an unknown data source is an error on data.source', () => {
  const e = errorOf(() => validateConfig({ ...base, data: { source: 'csv', dir: 'x' } }, 'cfg.ts'));
  assert.match(e.where, /data\.source/);
});

test('stage options are validated by the stage, naming the option', () => {
  const config = validateConfig({ ...base, stages: [{ name: 'export', options: { formats: ['coreml'] } }] }, 'cfg.ts');
  const e = errorOf(() => resolveStages(config));
  assert.match(e.where, /stages\[0\]\.options\.formats\[0\]/);
  const unknown = validateConfig({ ...base, stages: [{ name: 'export', options: { fromat: 'x' } }] }, 'cfg.ts');
  assert.match(errorOf(() => resolveStages(unknown)).message, /unknown option "fromat"/);
  // An option a former version accepted says what replaced it.
  const retired = errorOf(() => resolveStages(validateConfig({ ...base, stages: [{ name: 'prune', options: { latency: false } }] }, 'cfg.ts')));
  assert.match(retired.oneLine(), /stages\[0\]\.options: unknown option "latency".*runner times every stage/);
});

test('every stage name the config accepts is implemented and resolves', () => {
  // STAGE_UNKNOWN ("not implemented") is only reachable for a name the config schema knows and the registry lacks.
  assert.deepEqual([...STAGE_NAMES].sort(), Object.keys(STAGES).sort());
  const config = validateConfig({ ...base, stages: [...STAGE_NAMES] }, 'cfg.ts');
  assert.deepEqual(resolveStages(config).map((r) => r.stage.name), [...STAGE_NAMES]);
});
