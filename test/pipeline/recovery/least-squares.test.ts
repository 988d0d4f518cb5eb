import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { initEngine } from '../../../pipeline/engine.ts';
import { choleskySolve, solveRidge } from '../../../pipeline/recovery/least-squares.ts';
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

/** The textbook Cholesky solve, one dependent sum per element: the blocked solver must match it bit for bit. */
function textbookCholeskySolve(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  for (let j = 0; j < n; j++) {
    let d = a[j * n + j]!;
    for (let k = 0; k < j; k++) d -= a[j * n + k]! * a[j * n + k]!;
    d = Math.sqrt(d);
    a[j * n + j] = d;
    for (let i = j + 1; i < n; i++) {
      let v = a[i * n + j]!;
      for (let k = 0; k < j; k++) v -= a[i * n + k]! * a[j * n + k]!;
      a[i * n + j] = v / d;
    }
  }
  const z = Float64Array.from(b);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < i; k++) if (a[i * n + k] !== 0) for (let c = 0; c < m; c++) z[i * m + c] -= a[i * n + k]! * z[k * m + c]!;
    for (let c = 0; c < m; c++) z[i * m + c] /= a[i * n + i]!;
  }
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) if (a[k * n + i] !== 0) for (let c = 0; c < m; c++) z[i * m + c] -= a[k * n + i]! * z[k * m + c]!;
    for (let c = 0; c < m; c++) z[i * m + c] /= a[i * n + i]!;
  }
  return z;
}

test('choleskySolve is bit-identical to the textbook algorithm (odd sizes, zero blocks)', () => {
  for (const [n, m, zeroBlocks] of [[37, 5, false], [64, 3, false], [41, 7, true], [9, 1, true]] as const) {
    const rows = n + 3;
    const x = random(rows * n, n + m);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j <= i; j++) {
        // Zero blocks make exact zeros in L, which both must skip the same way.
        if (zeroBlocks && Math.floor(i / 6) !== Math.floor(j / 6)) continue;
        let v = i === j ? 0.5 : 0;
        for (let k = 0; k < rows; k++) v += x[k * n + i]! * x[k * n + j]!;
        a[i * n + j] = a[j * n + i] = v;
      }
    }
    const b = Float64Array.from(random(n * m, 99));
    const got = choleskySolve(a.slice(), n, b, m);
    const want = textbookCholeskySolve(a.slice(), n, b, m);
    assert.ok(got.every((v, i) => Object.is(v, want[i])), `n=${n} m=${m} zeroBlocks=${zeroBlocks}`);
  }
});
