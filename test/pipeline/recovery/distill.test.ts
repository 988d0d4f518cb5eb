import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fineTuneOption, fineTuneSettings } from '../../../pipeline/recovery/distill.ts';

test('fineTuneSettings: a batch the memory budget lowers trains at a learning rate scaled to it (√ for Adam, linear for SGD)', () => {
  const adam = fineTuneOption.parse({ batchSize: 64, learningRate: 1e-3 });
  const asked = fineTuneSettings(adam, 1000);
  assert.ok(asked && asked.batchSize === 64 && asked.learningRate === 1e-3 && asked.batchNorm === 'batch');
  const lowered = fineTuneSettings(adam, 16);
  assert.ok(lowered && lowered.batchSize === 16 && Math.abs(lowered.learningRate - 5e-4) < 1e-12 && lowered.batchNorm === 'batch');
  const small = fineTuneSettings(adam, 4);
  assert.ok(small && small.batchNorm === 'moving' && Math.abs(small.learningRate - 2.5e-4) < 1e-12);
  const sgd = fineTuneSettings(fineTuneOption.parse({ batchSize: 64, learningRate: 0.01, optimizer: 'sgd-momentum' }), 16);
  assert.ok(sgd && Math.abs(sgd.learningRate - 0.0025) < 1e-12);
  assert.equal(fineTuneSettings(false), false);
});
