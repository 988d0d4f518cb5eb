import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { choleskySolve, solveRidge } from '../../../pipeline/prune/least-squares.ts';
import { createRng } from '../../../pipeline/random.ts';

before(async () => {
  await initEngine('wasm');
});

function random(n: number, seed: number): Float32Array {
  const rng = createRng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/** (XᵀX + λI)⁻¹ XᵀR in float64, straight from the definition. */
function ridgeReference(x: Float32Array, r: Float32Array, rows: number, n: number, m: number, lambda: number): Float64Array {
  const g = new Float64Array(n * n);
  const b = new Float64Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) for (let k = 0; k < rows; k++) g[i * n + j] += x[k * n + i]! * x[k * n + j]!;
    g[i * n + i] += lambda;
    for (let c = 0; c < m; c++) for (let k = 0; k < rows; k++) b[i * m + c] += x[k * n + i]! * r[k * m + c]!;
  }
  return choleskySolve(g, n, b, m);
}

test('choleskySolve solves a symmetric positive definite system', () => {
  const a = Float64Array.from([4, 2, 0.4, 2, 5, 1, 0.4, 1, 3]);
  const z = [1, -2, 0.5, 3, 2, -1]; // two right-hand sides, row-major 3x2
  const b = new Float64Array(6);
  for (let i = 0; i < 3; i++) for (let c = 0; c < 2; c++) for (let k = 0; k < 3; k++) b[i * 2 + c] += a[i * 3 + k]! * z[k * 2 + c]!;
  const got = choleskySolve(a.slice(), 3, b, 2);
  got.forEach((v, i) => assert.ok(Math.abs(v - z[i]!) < 1e-12));
  assert.throws(() => choleskySolve(Float64Array.from([1, 2, 2, 1]), 2, Float64Array.from([1, 1]), 1), /not positive definite/);
});

for (const [label, rows, n] of [['primal (more rows than features)', 40, 6], ['dual (more features than rows)', 6, 40]] as const) {
  test(`solveRidge ${label} matches the ridge normal equations`, () => {
    const m = 3;
    const x = random(rows * n, 1);
    const r = random(rows * m, 2);
    const { delta, lambda } = solveRidge(x, r, rows, n, m, 0.05);
    assert.ok(lambda > 0);
    const want = ridgeReference(x, r, rows, n, m, lambda);
    want.forEach((v, i) => assert.ok(Math.abs(v - delta[i]!) < 1e-3 * (1 + Math.abs(v)), `${i}: ${v} vs ${delta[i]}`));
  });
}
