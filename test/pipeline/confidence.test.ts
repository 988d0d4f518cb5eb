import assert from 'node:assert/strict';
import { test } from 'node:test';
import { wilsonInterval } from '../../pipeline/confidence.ts';

test('Wilson 95% interval: textbook values, stays inside [0, 1], narrows with n', () => {
  // 8 of 10 (Newcombe 1998, table I): 0.4902–0.9433.
  const i = wilsonInterval(0.8, 10);
  assert.ok(Math.abs(i.low - 0.4902) < 5e-4 && Math.abs(i.high - 0.9433) < 5e-4, JSON.stringify(i));
  // 0 of 10 and 10 of 10: one side pinned at the bound, the other 0.2775 away.
  assert.ok(Math.abs(wilsonInterval(0, 10).high - 0.2775) < 5e-4);
  assert.ok(Math.abs(wilsonInterval(1, 10).high - 1) < 1e-12);
  assert.ok(Math.abs(wilsonInterval(1, 10).low - 0.7225) < 5e-4);
  assert.ok(wilsonInterval(0.98, 8000).halfWidth < wilsonInterval(0.98, 800).halfWidth);
  assert.ok(Math.abs(i.halfWidth - (i.high - i.low) / 2) < 1e-15);
});
