import assert from 'node:assert/strict';
import { test } from 'node:test';
import { splitBudget, stageBudget } from '../../pipeline/budget.ts';
import { validateConfig } from '../../pipeline/config.ts';
import { SlimnetError } from '../../pipeline/errors.ts';
import { resolveStages } from '../../pipeline/runner.ts';

const accuracy = (name: string, budgetShare?: number) => ({ name, changesAccuracy: true, budgetShare });
const exporter = (budgetShare?: number) => ({ name: 'export', changesAccuracy: false, budgetShare });

test('default split: the whole budget, equally over the stages that change accuracy; export gets none', () => {
  assert.deepEqual(splitBudget([accuracy('prune'), exporter()]), [{ share: 1, cumulative: 1 }, { share: 0, cumulative: 1 }]);
  const three = splitBudget([accuracy('prune'), accuracy('separable'), accuracy('quantize'), exporter()]);
  assert.deepEqual(three.map((s) => s.share), [1 / 3, 1 / 3, 1 / 3, 0].map((x) => Math.round(x * 1e12) / 1e12));
  assert.deepEqual(three.map((s) => s.cumulative), [0.333333333333, 0.666666666667, 1, 1]);
  // An export before any accuracy-changing stage has no allowance: its floor is the baseline.
  assert.deepEqual(splitBudget([exporter(), accuracy('prune')]), [{ share: 0, cumulative: 0 }, { share: 1, cumulative: 1 }]);
});

test('explicit shares are kept; the rest is split over the stages without one', () => {
  assert.deepEqual(splitBudget([accuracy('prune', 0.5), accuracy('quantize'), exporter()]).map((s) => [s.share, s.cumulative]), [[0.5, 0.5], [0.5, 1], [0, 1]]);
  assert.deepEqual(splitBudget([accuracy('prune', 0.2), accuracy('separable'), accuracy('quantize')]).map((s) => s.share), [0.2, 0.4, 0.4]);
  // Only prune, at half: prune may spend half; the export after it is held to the whole budget's floor.
  assert.deepEqual(splitBudget([accuracy('prune', 0.5), exporter()]).map((s) => s.cumulative), [0.5, 1]);
  assert.deepEqual(splitBudget([accuracy('prune', 0.25), accuracy('quantize', 0.25)]).map((s) => s.cumulative), [0.25, 0.5]);
  // No stage with a share (an export alone): the whole budget.
  assert.deepEqual(splitBudget([exporter()]), [{ share: 0, cumulative: 1 }]);
  // A share on export counts like any other.
  assert.deepEqual(splitBudget([accuracy('prune'), exporter(0.25)]).map((s) => s.share), [0.75, 0.25]);
});

test('shares adding up to more than the whole budget are a config error naming the key', () => {
  const e = (() => {
    try {
      splitBudget([accuracy('prune', 0.7), accuracy('quantize', 0.6)], 'cfg.ts');
    } catch (err) {
      return err;
    }
  })();
  assert.ok(e instanceof SlimnetError && e.code === 'CONFIG_INVALID', String(e));
  assert.equal(e.where, 'cfg.ts: stages[1].budgetShare');
  assert.match(e.message, /add up to 1\.3/);
});

test('a stage budget: the cumulative share of the total, below the baseline', () => {
  const b = stageBudget(0.02, { share: 0.5, cumulative: 0.5 }, 0.9);
  assert.equal(b.maxDrop, 0.01);
  assert.equal(b.share, 0.5);
  assert.equal(b.total, 0.02);
  assert.ok(Math.abs(b.floor - 0.89) < 1e-12);
});

test('the runner resolves shares from the config and the stage registry', () => {
  const config = validateConfig({
    model: 'm/model.json', data: { source: 'idx', dir: 'd' },
    stages: [{ name: 'prune', budgetShare: 0.4 }, 'export'],
  }, 'cfg.ts');
  assert.deepEqual(resolveStages(config).map((r) => r.budget), [{ share: 0.4, cumulative: 0.4 }, { share: 0, cumulative: 1 }]);
  const byDefault = validateConfig({ model: 'm/model.json', data: { source: 'idx', dir: 'd' }, stages: ['prune', 'export'] }, 'cfg.ts');
  assert.deepEqual(resolveStages(byDefault).map((r) => r.budget), [{ share: 1, cumulative: 1 }, { share: 0, cumulative: 1 }]);
  assert.throws(() => validateConfig({ model: 'm', data: { source: 'idx', dir: 'd' }, stages: [{ name: 'prune', budgetShare: 1.5 }] }, 'cfg.ts'),
    (e) => e instanceof SlimnetError && e.where === 'cfg.ts: stages[0].budgetShare');
});
