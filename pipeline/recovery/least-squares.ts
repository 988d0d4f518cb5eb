/**
 * Ridge least squares for weight reconstruction: Δ = argmin ‖X·Δ − R‖² + λ‖Δ‖², X [rows × n], R [rows × m].
 * The big products run on tfjs (the active backend); the Cholesky factorisation of the min(rows, n)-sized
 * system runs in float64 JS. With more features than rows it solves the dual (X·Xᵀ + λI)·A = R, Δ = Xᵀ·A,
 * which is the same minimiser and much smaller.
 */
import * as tf from '@tensorflow/tfjs';

export interface RidgeResult {
  delta: Float32Array;
  /** λ actually used: ridge × the features' mean squared value (trace(XᵀX) / n), the same in both forms. */
  lambda: number;
}

export function solveRidge(x: Float32Array, r: Float32Array, rows: number, n: number, m: number, ridge: number): RidgeResult {
  const dual = n > rows;
  const [X, R] = [tf.tensor2d(x, [rows, n]), tf.tensor2d(r, [rows, m])];
  try {
    const gram = tf.tidy(() => (dual ? tf.matMul(X, X, false, true) : tf.matMul(X, X, true, false)));
    const size = dual ? rows : n;
    const g = Float64Array.from(gram.dataSync());
    gram.dispose();
    let trace = 0;
    for (let i = 0; i < size; i++) trace += g[i * size + i]!;
    const lambda = Math.max(ridge * (trace / n), 1e-12);
    for (let i = 0; i < size; i++) g[i * size + i] += lambda;
    const rhs = dual ? r : (tf.tidy(() => tf.matMul(X, R, true, false)).dataSync() as Float32Array);
    const solution = choleskySolve(g, size, Float64Array.from(rhs), m);
    if (!dual) return { delta: Float32Array.from(solution), lambda };
    const delta = tf.tidy(() => tf.matMul(X, tf.tensor2d(Float32Array.from(solution), [rows, m]), true, false));
    const values = delta.dataSync() as Float32Array;
    delta.dispose();
    return { delta: values, lambda };
  } finally {
    tf.dispose([X, R]);
  }
}

/**
 * Columns handled together by the blocked factorisation below. The arithmetic, and its order per element, is
 * exactly the unblocked algorithm's, so results are bit-identical; the blocks only let independent sums overlap.
 */
const BLOCK = 4;

/** Solves A·Z = B for symmetric positive definite A [n×n] (overwritten), B [n×m]; returns Z [n×m]. */
export function choleskySolve(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  choleskyFactor(a, n);
  const z = Float64Array.from(b);
  forwardSubstitute(a, n, z, m);
  // Backward: Lᵀ·Z = Y.
  for (let i = n - 1; i >= 0; i--) {
    subtractRows(z, i * m, m, i + 1, n, (k) => a[k * n + i]!);
    const d = a[i * n + i]!;
    for (let c = 0; c < m; c++) z[i * m + c] /= d;
  }
  return z;
}

/** A = L·Lᵀ in place (L in the lower triangle), Cholesky–Crout by column blocks. */
function choleskyFactor(a: Float64Array, n: number): void {
  for (let j0 = 0; j0 < n; j0 += BLOCK) {
    const j1 = Math.min(n, j0 + BLOCK);
    // Columns [0, j0) are final: subtract their part of the block's dot products, one pass over each row. Four
    // independent running sums per pass (one per column) keep the FPU busy; each still adds in the original order.
    for (let i = j0; i < n; i++) {
      const ri = i * n;
      const jEnd = Math.min(j1, i + 1);
      if (jEnd - j0 === 4) {
        const [r0, r1, r2, r3] = [j0 * n, (j0 + 1) * n, (j0 + 2) * n, (j0 + 3) * n];
        let v0 = a[ri + j0]!, v1 = a[ri + j0 + 1]!, v2 = a[ri + j0 + 2]!, v3 = a[ri + j0 + 3]!;
        for (let k = 0; k < j0; k++) {
          const x = a[ri + k]!;
          v0 -= x * a[r0 + k]!;
          v1 -= x * a[r1 + k]!;
          v2 -= x * a[r2 + k]!;
          v3 -= x * a[r3 + k]!;
        }
        a[ri + j0] = v0;
        a[ri + j0 + 1] = v1;
        a[ri + j0 + 2] = v2;
        a[ri + j0 + 3] = v3;
        continue;
      }
      for (let j = j0; j < jEnd; j++) {
        const rj = j * n;
        let v = a[ri + j]!;
        for (let k = 0; k < j0; k++) v -= a[ri + k]! * a[rj + k]!;
        a[ri + j] = v;
      }
    }
    // Then the block's own columns, left to right, continuing each dot product where the pass above stopped.
    for (let j = j0; j < j1; j++) {
      const rj = j * n;
      let d = a[rj + j]!;
      for (let k = j0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
      if (!(d > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${j}: ${d})`);
      d = Math.sqrt(d);
      a[rj + j] = d;
      for (let i = j + 1; i < n; i++) {
        const ri = i * n;
        let v = a[ri + j]!;
        for (let k = j0; k < j; k++) v -= a[ri + k]! * a[rj + k]!;
        a[ri + j] = v / d;
      }
    }
  }
}

/** L·Y = B in place on z [n×m]. */
function forwardSubstitute(a: Float64Array, n: number, z: Float64Array, m: number): void {
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    subtractRows(z, i * m, m, 0, i, (k) => a[ri + k]!);
    const d = a[ri + i]!;
    for (let c = 0; c < m; c++) z[i * m + c] /= d;
  }
}

/**
 * z[row] -= l(k) · z[k-th row] for k = from … to−1 in ascending order, skipping l(k) = 0: one subtraction per k per
 * element, as the textbook loop does. Four k at a time share one read and write of the target row; a group with a
 * zero coefficient takes the one-at-a-time path so the skip (and so every bit of the result) is kept.
 */
function subtractRows(z: Float64Array, row: number, m: number, from: number, to: number, l: (k: number) => number): void {
  let k = from;
  for (; k + 3 < to; k += 4) {
    const [l0, l1, l2, l3] = [l(k), l(k + 1), l(k + 2), l(k + 3)];
    if (l0 === 0 || l1 === 0 || l2 === 0 || l3 === 0) {
      for (let q = k; q < k + 4; q++) subtractRow(z, row, m, q, l(q));
      continue;
    }
    const [z0, z1, z2, z3] = [k * m, (k + 1) * m, (k + 2) * m, (k + 3) * m];
    for (let c = 0; c < m; c++) z[row + c] = z[row + c]! - l0 * z[z0 + c]! - l1 * z[z1 + c]! - l2 * z[z2 + c]! - l3 * z[z3 + c]!;
  }
  for (; k < to; k++) subtractRow(z, row, m, k, l(k));
}

function subtractRow(z: Float64Array, row: number, m: number, k: number, l: number): void {
  if (l === 0) return;
  const zk = k * m;
  for (let c = 0; c < m; c++) z[row + c] -= l * z[zk + c]!;
}
