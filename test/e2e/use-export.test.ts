/**
 * The README's "Use your export" code, run as a user would: examples/use-export/*.mjs load a fresh export with
 * stock @tensorflow/tfjs in Node (no tfjs-node) and with onnxruntime-node, and classify a real test sample
 * prepared as report.json's signature says.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import type { Report } from '../../pipeline/report.ts';
import { runCliInProcess } from '../fixtures/cli.ts';
import { syntheticIdxSet } from '../fixtures/idx.ts';
import { TINY, writeTinyTask } from '../fixtures/tiny-task.ts';

function runExample(script: string, args: string[]): { output: number[]; predictedClass: number } {
  const r = spawnSync(process.execPath, [path.resolve('examples/use-export', script), ...args], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  // tfjs prints a banner about tfjs-node on stdout; the result is the JSON line.
  return JSON.parse(r.stdout.split('\n').find((l) => l.startsWith('{'))!);
}

test('examples/use-export: the TF.js export in Node without tfjs-node, and the ONNX export on onnxruntime-node', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'slimnet-use-export-'));
  const task = await writeTinyTask(dir);
  const r = await runCliInProcess(['compress', '--model', task.modelJson, '--data', task.dataDir, '--stages', 'export', '--out', 'run', '--json'], dir);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as Report;
  const input = report.signature.inputs[0]!;
  assert.deepEqual(input.shape, [null, TINY.rows, TINY.cols, 1]);
  // A test-set image of class 2, scaled as the signature says (raw uint8 · scale + offset).
  const samples = syntheticIdxSet(TINY.classes, TINY.rows, TINY.cols, TINY.classes, 5);
  const x = Array.from(samples.images.subarray(2 * TINY.rows * TINY.cols, 3 * TINY.rows * TINY.cols), (v) => v * input.scaling.scale + input.scaling.offset);
  writeFileSync(path.join(dir, 'input.json'), JSON.stringify(x));
  const tfjs = runExample('tfjs-node.mjs', [path.join(dir, 'run', report.exports.tfjs!), path.join(dir, 'input.json')]);
  const onnx = runExample('onnx-node.mjs', [path.join(dir, 'run', report.exports.onnx!), path.join(dir, 'input.json')]);
  assert.equal(tfjs.predictedClass, samples.labels[2]);
  assert.equal(onnx.predictedClass, samples.labels[2]);
  assert.equal(report.signature.outputs[0]!.meaning, 'probabilities');
  assert.ok(Math.abs(tfjs.output.reduce((a, b) => a + b, 0) - 1) < 1e-5, 'probabilities sum to 1');
  tfjs.output.forEach((v, i) => assert.ok(Math.abs(v - onnx.output[i]!) < 1e-5, `output ${i}: tfjs ${v} vs onnx ${onnx.output[i]}`));
});
