/** Targets and shards: which targets an invocation runs, and what config each one gets. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isSlimnetError } from '../../pipeline/errors.ts';
import { checkTargetNames, mergeTarget, parseShard, selectTargets } from '../../pipeline/targets.ts';

const names = ['server', 'web', 'edge', 'mobile', 'tiny'];

test('shards are a deterministic partition of the name-sorted targets', () => {
  for (const n of [1, 2, 3, 5, 7]) {
    const slices = Array.from({ length: n }, (_, i) => selectTargets(names, { shard: parseShard(`${i + 1}/${n}`), source: 'c' }));
    assert.deepEqual(slices.flat().sort(), [...names].sort(), `n=${n}: every target exactly once`);
    assert.deepEqual(slices, Array.from({ length: n }, (_, i) => selectTargets([...names].reverse(), { shard: { index: i + 1, count: n }, source: 'c' })), 'independent of config order');
  }
  assert.deepEqual(selectTargets(names, { shard: parseShard('1/2'), source: 'c' }), ['edge', 'server', 'web']);
  assert.deepEqual(selectTargets(names, { target: 'web,edge', shard: parseShard('2/2'), source: 'c' }), ['web']);
});

test('bad --shard and --target values are one-line config errors naming the flag', () => {
  for (const bad of ['0/2', '3/2', '1/0', 'a/b', '1']) {
    assert.throws(() => parseShard(bad), (e: unknown) => isSlimnetError(e) && e.where === '--shard', bad);
  }
  assert.throws(() => selectTargets(names, { target: 'desktop', source: 'c' }), (e: unknown) => isSlimnetError(e) && /desktop/.test(e.message) && /edge, mobile/.test(e.hint!));
  assert.throws(() => selectTargets([], { target: 'web', source: 'c' }), (e: unknown) => isSlimnetError(e) && /defines no targets/.test(e.message));
});

test('a target overrides what it names; budget and evaluation merge key by key; targets are not inherited', () => {
  const base = { model: 'm.json', seed: 1, budget: { maxAccuracyDrop: 0.01 }, evaluation: { batchSize: 64 }, stages: ['prune', 'export'], targets: { web: {} } };
  const web = mergeTarget(base, 'web', { budget: { maxAccuracyDrop: 0.005 }, stages: ['export'] }, 'c');
  assert.deepEqual(web, { model: 'm.json', seed: 1, budget: { maxAccuracyDrop: 0.005 }, evaluation: { batchSize: 64 }, stages: ['export'] });
  assert.throws(() => mergeTarget(base, 'web', { model: 'other.json' }, 'c'), (e: unknown) => isSlimnetError(e) && e.where === 'c: targets.web' && /"model"/.test(e.message));
  assert.throws(() => checkTargetNames({ '../x': {} }, 'c'), (e: unknown) => isSlimnetError(e) && /targets\.\.\.\/x/.test(e.where));
  assert.throws(() => checkTargetNames({}, 'c'), (e: unknown) => isSlimnetError(e) && e.where === 'c: targets');
});
