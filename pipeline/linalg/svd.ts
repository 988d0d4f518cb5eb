/**
 * Singular value decomposition in float64: A = U·diag(s)·Vᵀ for a dense row-major matrix, s descending.
 *
 * One-sided Jacobi (Hestenes 1958; Demmel & Veselić 1992): plane rotations orthogonalise the columns of the working
 * matrix until every pair is orthogonal to machine precision; the column norms are then the singular values. It is
 * the most accurate dense SVD (small singular values to high relative accuracy, no bidiagonalisation round-off),
 * short enough to read in full, and fast at the sizes slimnet factorises (a (kh·kw) × filters slice per input
 * channel, a Dense kernel). A tall matrix is first reduced by a Householder QR, so the rotations work on the small
 * square R; a wide one is decomposed through its transpose.
 */

export interface Svd {
  /** rows × k, row-major, orthonormal columns (k = min(rows, cols)). */
  u: Float64Array;
  /** k singular values, descending, ≥ 0. */
  s: Float64Array;
  /** cols × k, row-major, orthonormal columns. */
  v: Float64Array;
  rows: number;
  cols: number;
  k: number;
}

const EPS = 2.220446049250313e-16;
const MAX_SWEEPS = 60;

/** SVD of `a` (rows × cols, row-major; any typed or plain array). The input is not modified. */
export function svd(a: ArrayLike<number>, rows: number, cols: number): Svd {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows <= 0 || cols <= 0) throw new RangeError(`svd: bad shape ${rows}×${cols}`);
  if (a.length !== rows * cols) throw new RangeError(`svd: ${a.length} values for a ${rows}×${cols} matrix`);
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i]!)) throw new RangeError(`svd: non-finite value at ${i}`);
  if (rows < cols) {
    // Aᵀ = V·S·Uᵀ.
    const t = svd(transpose(a, rows, cols), cols, rows);
    return { u: t.v, s: t.s, v: t.u, rows, cols, k: t.k };
  }
  const n = cols;
  // Tall: A = Q·R, decompose R (n × n) and lift U = Q·U_R. Square matrices skip the QR.
  const qr = rows > n ? householderQr(a, rows, n) : undefined;
  const w = qr ? qr.r : Float64Array.from(a as ArrayLike<number>);
  const { u: uSmall, s, v } = jacobi(w, n);
  const u = qr ? applyQ(qr, uSmall, n) : uSmall;
  return { u, s, v, rows, cols, k: n };
}

/**
 * One-sided Jacobi on a square n × n matrix `w` (destroyed). Works on columns stored contiguously (the transpose),
 * rotating pairs until all are orthogonal; returns U (n × n), s, V (n × n), sorted by s descending.
 */
function jacobi(w: Float64Array, n: number): { u: Float64Array; s: Float64Array; v: Float64Array } {
  const cols = Array.from({ length: n }, (_, j) => Float64Array.from({ length: n }, (_, i) => w[i * n + j]!));
  const vcols = Array.from({ length: n }, (_, j) => {
    const e = new Float64Array(n);
    e[j] = 1;
    return e;
  });
  const norms = cols.map(dotSelf);
  // Columns count as orthogonal once |cos| ≤ n·ε (dgesvj uses √n·ε-order thresholds): a stricter test never ends,
  // since rounding keeps the cosines at a few ε.
  const tol = Math.max(n, 4) * EPS;
  for (let sweep = 0; sweep < MAX_SWEEPS; sweep++) {
    let rotated = false;
    for (let p = 0; p < n - 1; p++) {
      for (let q = p + 1; q < n; q++) {
        const a = cols[p]!;
        const b = cols[q]!;
        const gamma = dot(a, b);
        const alpha = norms[p]!;
        const beta = norms[q]!;
        if (Math.abs(gamma) <= tol * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.hypot(1, zeta));
        const c = 1 / Math.hypot(1, t);
        const sn = c * t;
        rotate(a, b, c, sn);
        rotate(vcols[p]!, vcols[q]!, c, sn);
        // Recomputed rather than updated (alpha − t·gamma): no drift across sweeps.
        norms[p] = dotSelf(a);
        norms[q] = dotSelf(b);
      }
    }
    if (!rotated) break;
  }
  const sigma = norms.map(Math.sqrt);
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => sigma[y]! - sigma[x]! || x - y);
  const u = new Float64Array(n * n);
  const v = new Float64Array(n * n);
  const s = new Float64Array(n);
  const tiny = Math.max(...sigma, 0) * n * EPS;
  const zeroColumns: number[] = [];
  order.forEach((src, k) => {
    s[k] = sigma[src]!;
    for (let i = 0; i < n; i++) v[i * n + k] = vcols[src]![i]!;
    if (sigma[src]! > tiny && sigma[src]! > 0) {
      for (let i = 0; i < n; i++) u[i * n + k] = cols[src]![i]! / sigma[src]!;
    } else {
      zeroColumns.push(k);
    }
  });
  completeBasis(u, n, n, zeroColumns);
  return { u, s, v };
}

/** c·a − s·b and s·a + c·b, in place. */
function rotate(a: Float64Array, b: Float64Array, c: number, s: number): void {
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    a[i] = c * x - s * y;
    b[i] = s * x + c * y;
  }
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function dotSelf(a: Float64Array): number {
  return dot(a, a);
}

/**
 * Fills the listed columns of `m` (rows × k, row-major) with unit vectors orthogonal to every other column
 * (Gram–Schmidt twice over the standard basis), so U stays orthonormal when A is rank-deficient.
 */
function completeBasis(m: Float64Array, rows: number, k: number, columns: number[]): void {
  if (columns.length === 0) return;
  const filled = new Set(Array.from({ length: k }, (_, j) => j).filter((j) => !columns.includes(j)));
  const column = (j: number) => Float64Array.from({ length: rows }, (_, i) => m[i * k + j]!);
  let candidate = 0;
  for (const j of columns) {
    for (; candidate < rows; candidate++) {
      const e = new Float64Array(rows);
      e[candidate] = 1;
      for (let pass = 0; pass < 2; pass++) {
        for (const f of filled) {
          const c = column(f);
          const proj = dot(c, e);
          for (let i = 0; i < rows; i++) e[i] -= proj * c[i]!;
        }
      }
      const norm = Math.sqrt(dotSelf(e));
      if (norm > 0.5) {
        for (let i = 0; i < rows; i++) m[i * k + j] = e[i]! / norm;
        filled.add(j);
        candidate++;
        break;
      }
    }
  }
}

interface Qr {
  /** The Householder vectors (rows × n, column j below the diagonal and on it), row-major. */
  h: Float64Array;
  /** n × n upper triangular, row-major. */
  r: Float64Array;
  rows: number;
  n: number;
}

/** A = Q·R by Householder reflections (rows ≥ n); Q is kept as its reflectors. */
function householderQr(a: ArrayLike<number>, rows: number, n: number): Qr {
  // Column-major working copy: each reflection walks columns.
  const cols = Array.from({ length: n }, (_, j) => Float64Array.from({ length: rows }, (_, i) => a[i * n + j]!));
  const h = Array.from({ length: n }, () => new Float64Array(rows));
  for (let j = 0; j < n; j++) {
    const x = cols[j]!;
    let norm = 0;
    for (let i = j; i < rows; i++) norm += x[i]! * x[i]!;
    norm = Math.sqrt(norm);
    const v = h[j]!;
    if (norm === 0) continue; // nothing to reflect: v stays zero (the identity)
    const alpha = x[j]! > 0 ? -norm : norm;
    for (let i = j; i < rows; i++) v[i] = x[i]!;
    v[j] -= alpha;
    let vv = 0;
    for (let i = j; i < rows; i++) vv += v[i]! * v[i]!;
    const scale = Math.sqrt(vv);
    for (let i = j; i < rows; i++) v[i] /= scale;
    for (let c = j; c < n; c++) reflect(cols[c]!, v, j, rows);
  }
  const r = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = i; j < n; j++) r[i * n + j] = cols[j]![i]!;
  const hv = new Float64Array(rows * n);
  for (let j = 0; j < n; j++) for (let i = 0; i < rows; i++) hv[i * n + j] = h[j]![i]!;
  return { h: hv, r, rows, n };
}

/** x −= 2·v·(vᵀx) over rows from…rows. */
function reflect(x: Float64Array, v: Float64Array, from: number, rows: number): void {
  let d = 0;
  for (let i = from; i < rows; i++) d += v[i]! * x[i]!;
  if (d === 0) return;
  d *= 2;
  for (let i = from; i < rows; i++) x[i] -= d * v[i]!;
}

/** Q·M for the thin Q (rows × n) of `qr` and M (n × k): M padded with zero rows, then the reflectors in reverse. */
function applyQ(qr: Qr, m: Float64Array, k: number): Float64Array {
  const { rows, n } = qr;
  const cols = Array.from({ length: k }, (_, c) => {
    const x = new Float64Array(rows);
    for (let i = 0; i < n; i++) x[i] = m[i * k + c]!;
    return x;
  });
  const v = new Float64Array(rows);
  for (let j = n - 1; j >= 0; j--) {
    for (let i = 0; i < rows; i++) v[i] = qr.h[i * n + j]!;
    for (const x of cols) reflect(x, v, j, rows);
  }
  const out = new Float64Array(rows * k);
  for (let c = 0; c < k; c++) for (let i = 0; i < rows; i++) out[i * k + c] = cols[c]![i]!;
  return out;
}

function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j]!;
  return t;
}
