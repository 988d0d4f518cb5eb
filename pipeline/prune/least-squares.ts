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

/** Solves A·Z = B for symmetric positive definite A [n×n] (overwritten), B [n×m]; returns Z [n×m]. */
export function choleskySolve(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  // A = L·Lᵀ, L stored in the lower triangle of `a`.
  for (let j = 0; j < n; j++) {
    const rj = j * n;
    let d = a[rj + j]!;
    for (let k = 0; k < j; k++) d -= a[rj + k]! * a[rj + k]!;
    if (!(d > 0)) throw new Error(`choleskySolve: matrix is not positive definite (pivot ${j}: ${d})`);
    d = Math.sqrt(d);
    a[rj + j] = d;
    for (let i = j + 1; i < n; i++) {
      const ri = i * n;
      let v = a[ri + j]!;
      for (let k = 0; k < j; k++) v -= a[ri + k]! * a[rj + k]!;
      a[ri + j] = v / d;
    }
  }
  const z = Float64Array.from(b);
  // Forward: L·Y = B.
  for (let i = 0; i < n; i++) {
    const ri = i * n;
    for (let k = 0; k < i; k++) {
      const l = a[ri + k]!;
      if (l === 0) continue;
      for (let c = 0; c < m; c++) z[i * m + c] -= l * z[k * m + c]!;
    }
    const d = a[ri + i]!;
    for (let c = 0; c < m; c++) z[i * m + c] /= d;
  }
  // Backward: Lᵀ·Z = Y.
  for (let i = n - 1; i >= 0; i--) {
    for (let k = i + 1; k < n; k++) {
      const l = a[k * n + i]!;
      if (l === 0) continue;
      for (let c = 0; c < m; c++) z[i * m + c] -= l * z[k * m + c]!;
    }
    const d = a[i * n + i]!;
    for (let c = 0; c < m; c++) z[i * m + c] /= d;
  }
  return z;
}
