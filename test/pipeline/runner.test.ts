import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { validateConfig } from '../../pipeline/config.ts';
import { inferShapes } from '../../pipeline/graph/shapes.ts';
import { modelOutputClasses, runPipeline, withDataInputShape } from '../../pipeline/runner.ts';
import { inputLayer, layer, model } from '../fixtures/ir.ts';
import { writeTinyTask } from '../fixtures/tiny-task.ts';

test('a config validated directly (library use, no loadConfig) writes to artifacts/<model folder> under the cwd', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-runner-'));
  const task = await writeTinyTask(dir);
  const config = validateConfig({ model: task.modelJson, data: { source: 'idx', dir: task.dataDir }, stages: ['export'], cacheDir: false }, 'test');
  const cwd = process.cwd();
  process.chdir(dir);
  try {
    const result = await runPipeline(config);
    assert.equal(result.exitCode, 0);
    assert.equal(result.outDir, path.join(dir, 'artifacts', 'model'));
    assert.ok(existsSync(path.join(dir, 'artifacts', 'model', 'report.json')));
    assert.deepEqual(readdirSync(path.join(dir, 'artifacts')), ['model']);
  } finally {
    process.chdir(cwd);
  }
});

test("a model input with free dimensions (Input(shape=(None,)) before an Embedding) takes the data's sample shape", () => {
  const free = model(inputLayer([null]), layer('emb', 'Embedding', ['in'], { input_dim: 9, output_dim: 3 }), layer('rnn', 'LSTM', ['emb'], { units: 2 }), layer('head', 'Dense', ['rnn'], { units: 4 }));
  assert.throws(() => inferShapes(free), /input shape \[null\] has unknown dimensions/);
  const lines: string[] = [];
  const bound = withDataInputShape(free, [7], (line) => lines.push(line));
  assert.deepEqual(inferShapes(bound).get('emb'), [7, 3]);
  assert.equal(modelOutputClasses(bound), 4);
  assert.match(lines.join('\n'), /free dimensions \[null\] set to the data's \[7\]/);
  assert.deepEqual(free.layers[0]!.config, inputLayer([null]).config, 'the input model is left as it was');
  assert.equal(withDataInputShape(bound, [7]), bound, 'a fixed input is kept');
});
