import assert from 'node:assert/strict';
import { test } from 'node:test';
import { svd, type Svd } from '../../../pipeline/linalg/svd.ts';
import { createRng } from '../../../pipeline/random.ts';

function random(rows: number, cols: number, seed: number): Float64Array {
  const rng = createRng(seed);
  return Float64Array.from({ length: rows * cols }, () => rng.normal());
}

/** A·B for row-major A (r × k) and B (k × c). */
function matmul(a: ArrayLike<number>, b: ArrayLike<number>, r: number, k: number, c: number): Float64Array {
  const out = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let p = 0; p < k; p++) for (let j = 0; j < c; j++) out[i * c + j] += a[i * k + p]! * b[p * c + j]!;
  return out;
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}

/** U·diag(s)·Vᵀ keeping the first `rank` terms. */
function reconstruct(d: Svd, rank = d.k): Float64Array {
  const out = new Float64Array(d.rows * d.cols);
  for (let t = 0; t < rank; t++) for (let i = 0; i < d.rows; i++) for (let j = 0; j < d.cols; j++) out[i * d.cols + j] += d.u[i * d.k + t]! * d.s[t]! * d.v[j * d.k + t]!;
  return out;
}

const frob = (a: ArrayLike<number>) => Math.sqrt(Array.from(a).reduce((s, v) => s + v * v, 0));
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);

function assertOrthonormalColumns(m: Float64Array, rows: number, k: number, label: string): void {
  const g = matmul(transpose(m, rows, k), m, k, rows, k);
  for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) assert.ok(Math.abs(g[i * k + j]! - (i === j ? 1 : 0)) < 1e-12, `${label}ᵀ${label} [${i},${j}] = ${g[i * k + j]}`);
}

function assertValid(a: Float64Array, rows: number, cols: number, d: Svd): void {
  assert.equal(d.k, Math.min(rows, cols));
  assertOrthonormalColumns(d.u, rows, d.k, 'U');
  assertOrthonormalColumns(d.v, cols, d.k, 'V');
  for (let i = 0; i < d.k; i++) assert.ok(d.s[i]! >= 0 && (i === 0 || d.s[i]! <= d.s[i - 1]!), `s descending, non-negative: ${d.s}`);
  assert.ok(maxAbsDiff(reconstruct(d), a) <= 1e-12 * Math.max(1, frob(a)), `A = U·S·Vᵀ (max diff ${maxAbsDiff(reconstruct(d), a)})`);
}

for (const [rows, cols] of [[1, 1], [1, 7], [7, 1], [5, 5], [9, 32], [32, 9], [200, 24], [24, 200], [64, 63]] as const) {
  test(`${rows}×${cols} random: A = U·S·Vᵀ, orthonormal U and V, s descending`, () => {
    const a = random(rows, cols, rows * 100 + cols);
    assertValid(a, rows, cols, svd(a, rows, cols));
  });
}

test('singular values are the square roots of the eigenvalues of AᵀA (trace and Frobenius identities)', () => {
  const [rows, cols] = [40, 12];
  const a = random(rows, cols, 3);
  const d = svd(a, rows, cols);
  // Σ s² = ‖A‖²_F = trace(AᵀA); Σ s⁴ = ‖AᵀA‖²_F.
  const gram = matmul(transpose(a, rows, cols), a, cols, rows, cols);
  const sumSq = d.s.reduce((s, v) => s + v * v, 0);
  const sumQuad = d.s.reduce((s, v) => s + v ** 4, 0);
  assert.ok(Math.abs(sumSq - frob(a) ** 2) < 1e-10 * sumSq);
  assert.ok(Math.abs(sumQuad - frob(gram) ** 2) < 1e-10 * sumQuad);
  // A·v_i = s_i·u_i for every i.
  for (let i = 0; i < d.k; i++) {
    const vi = Float64Array.from({ length: cols }, (_, j) => d.v[j * d.k + i]!);
    const av = matmul(a, vi, rows, cols, 1);
    for (let r = 0; r < rows; r++) assert.ok(Math.abs(av[r]! - d.s[i]! * d.u[r * d.k + i]!) < 1e-11);
  }
});

test('a known spectrum is recovered to full relative accuracy, tiny values included', () => {
  // A = Q1·diag(σ)·Q2ᵀ with orthogonal Q1, Q2 taken from the SVD of random matrices.
  const n = 10;
  const sigma = [1e3, 50, 7, 1, 0.3, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10];
  const q1 = svd(random(n, n, 11), n, n).u;
  const q2 = svd(random(n, n, 12), n, n).v;
  const scaled = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) scaled[i * n + j] = q1[i * n + j]! * sigma[j]!;
  const a = matmul(scaled, transpose(q2, n, n), n, n, n);
  const d = svd(a, n, n);
  // Relative accuracy down to what forming A in float64 allows (absolute error ~ ε·σ_max).
  for (let i = 0; i < n; i++) assert.ok(Math.abs(d.s[i]! - sigma[i]!) <= 1e-9 * sigma[i]! + 1e-12 * sigma[0]!, `σ${i}: ${d.s[i]} vs ${sigma[i]}`);
});

test('rank-deficient and zero matrices: exact reconstruction, zero singular values, U still orthonormal', () => {
  const [rows, cols] = [12, 6];
  const left = random(rows, 2, 5);
  const right = random(2, cols, 6);
  const a = matmul(left, right, rows, 2, cols); // rank 2
  const d = svd(a, rows, cols);
  assertValid(a, rows, cols, d);
  for (let i = 2; i < d.k; i++) assert.ok(d.s[i]! < 1e-12 * d.s[0]!, `s${i} = ${d.s[i]}`);
  const zero = new Float64Array(4 * 3);
  const z = svd(zero, 4, 3);
  assertValid(zero, 4, 3, z);
  assert.deepEqual(Array.from(z.s), [0, 0, 0]);
});

test('Eckart–Young: the rank-r truncation leaves exactly the discarded singular values as error', () => {
  const [rows, cols] = [30, 16];
  const a = random(rows, cols, 9);
  const d = svd(a, rows, cols);
  for (const r of [1, 4, 15]) {
    const err = frob(reconstruct(d, r).map((v, i) => v - a[i]!));
    const expected = Math.sqrt(d.s.slice(r).reduce((s, v) => s + v * v, 0));
    assert.ok(Math.abs(err - expected) < 1e-10 * frob(a), `rank ${r}: ${err} vs ${expected}`);
  }
});

test('degenerate singular values (an orthogonal matrix) and duplicated columns', () => {
  const q = svd(random(8, 8, 21), 8, 8).u;
  const d = svd(q, 8, 8);
  assertValid(q, 8, 8, d);
  for (const s of d.s) assert.ok(Math.abs(s - 1) < 1e-12);
  const col = random(10, 1, 4);
  const dup = Float64Array.from({ length: 30 }, (_, i) => col[Math.floor(i / 3)]!);
  const dd = svd(dup, 10, 3);
  assertValid(dup, 10, 3, dd);
  assert.ok(Math.abs(dd.s[0]! - Math.sqrt(3) * frob(col)) < 1e-12 * dd.s[0]!);
});

test('bad input is refused', () => {
  assert.throws(() => svd(new Float64Array(5), 2, 3), RangeError);
  assert.throws(() => svd([1, Number.NaN], 1, 2), RangeError);
  assert.throws(() => svd([], 0, 0), RangeError);
});
