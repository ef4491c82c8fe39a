/**
 * Eigen decomposition of a small dense symmetric matrix on the host, in float64.
 *
 * PCA computes its covariance matrix on the GPU; the d×d decomposition (d = 784 for MNIST) is
 * cheap enough on the host. The method is the classic one (Golub & Van Loan, "Matrix
 * Computations", 4th ed., §8.3): Householder reflections reduce A to a tridiagonal T = QᵀAQ,
 * then implicitly shifted QL sweeps with Wilkinson shifts diagonalise T, accumulating their
 * Givens rotations into Q. About 9n³ flops with vectors; n = 784 takes about a second.
 *
 * @module
 */

/** Eigenvalues and eigenvectors of a symmetric matrix. */
export interface SymmetricEigen {
  /** The n eigenvalues, descending. */
  values: Float64Array;
  /** Row-major n×n: column k (`vectors[i * n + k]`, i = 0..n-1) is the unit eigenvector of
   * `values[k]`, signed so that its largest-magnitude component is positive. */
  vectors: Float64Array;
}

const EPS = Number.EPSILON;
const MAX_SWEEPS = 60;

/**
 * Eigenvalues (descending) and orthonormal eigenvectors of a symmetric n×n matrix given
 * row-major, so that A = V diag(values) Vᵀ with V = `vectors`. The input is not modified.
 *
 * A matrix that is symmetric only up to float32 rounding (a covariance summed on the GPU) is
 * accepted and symmetrised as (A + Aᵀ)/2; a clearly asymmetric one is an error.
 *
 * @example
 * ```ts
 * const { values, vectors } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
 * // values = [3, 1]; column 0 of vectors = [1, 1] / √2, column 1 = [-1, 1] / √2 up to sign
 * ```
 */
export function symmetricEigen(a: ArrayLike<number>, n: number): SymmetricEigen {
  const where = `symmetricEigen(a, n=${n})`;
  if (!Number.isInteger(n) || n < 1) {
    throw new Error(`${where}: expected n to be a positive integer`);
  }
  if (a.length !== n * n) {
    throw new Error(`${where}: expected a of length n² = ${n * n}, got ${a.length}`);
  }
  let maxAbs = 0;
  for (let k = 0; k < a.length; k++) {
    const v = a[k];
    if (!Number.isFinite(v)) {
      throw new Error(
        `${where}: expected finite entries, a[${Math.floor(k / n)}, ${k % n}] is ${v}`,
      );
    }
    maxAbs = Math.max(maxAbs, Math.abs(v));
  }
  // Tolerates float32 summation-order differences (~1e-7 relative), rejects real asymmetry.
  const asymTol = 1e-4 * maxAbs;
  const w = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const lo = a[i * n + j], up = a[j * n + i];
      if (Math.abs(lo - up) > asymTol) {
        throw new Error(
          `${where}: expected a symmetric matrix, a[${i}, ${j}] = ${lo} but a[${j}, ${i}] = ${up}`,
        );
      }
      w[i * n + j] = w[j * n + i] = (lo + up) / 2;
    }
  }

  const d = new Float64Array(n), e = new Float64Array(n);
  const z = tridiagonalize(w, n, d, e);
  tridiagonalQL(d, e, z, n, where);
  return sortAndNormalise(d, z, n);
}

/**
 * Householder reduction of the symmetric `w` (overwritten) to tridiagonal form: fills the
 * diagonal `d` and the sub-diagonal `e` (e[k] couples k and k+1; e[n-1] = 0) and returns Qᵀ,
 * row-major, where T = QᵀAQ.
 *
 * Step k reflects x = w[k+1.., k] onto α e₁ with H = I − β v vᵀ, v = x − α e₁, and updates the
 * trailing block B ← HBH as B − v wᵀ − w vᵀ with p = βBv, w = p − (β vᵀp / 2) v (Golub & Van
 * Loan Alg. 8.3.1). v is kept in row k of `w`, which the later steps no longer read.
 */
function tridiagonalize(
  w: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
): Float64Array {
  const beta = new Float64Array(n);
  const p = new Float64Array(n);
  for (let k = 0; k < n - 2; k++) {
    const s = k + 1; // first row/column of the trailing block
    let scale = 0;
    for (let i = s; i < n; i++) scale = Math.max(scale, Math.abs(w[i * n + k]));
    d[k] = w[k * n + k];
    if (scale === 0) { // already zero below the sub-diagonal: H = I
      e[k] = 0;
      continue;
    }
    // Scaled norm, so that squaring cannot overflow or underflow.
    let ss = 0;
    for (let i = s; i < n; i++) {
      const t = w[i * n + k] / scale;
      ss += t * t;
    }
    const x0 = w[s * n + k];
    // α takes the sign opposite to x₀ so that v₀ = x₀ − α involves no cancellation.
    const alpha = (x0 > 0 ? -1 : 1) * scale * Math.sqrt(ss);
    const row = k * n;
    for (let i = s; i < n; i++) w[row + i] = w[i * n + k];
    w[row + s] -= alpha;
    // vᵀv = ‖x‖² − 2αx₀ + α² = 2(α² − αx₀).
    const b = 1 / (alpha * alpha - alpha * x0);
    beta[k] = b;
    e[k] = alpha;

    // p = β B v (B symmetric, row-major, so row i · v is contiguous).
    let vp = 0;
    for (let i = s; i < n; i++) {
      let acc = 0;
      const ri = i * n;
      for (let j = s; j < n; j++) acc += w[ri + j] * w[row + j];
      p[i] = b * acc;
      vp += w[row + i] * p[i];
    }
    const half = (b * vp) / 2;
    for (let i = s; i < n; i++) p[i] -= half * w[row + i]; // p now holds w
    for (let i = s; i < n; i++) {
      const ri = i * n, vi = w[row + i], wi = p[i];
      for (let j = s; j < n; j++) w[ri + j] -= vi * p[j] + wi * w[row + j];
    }
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2];
    e[n - 2] = w[(n - 1) * n + n - 2];
  }
  d[n - 1] = w[n * n - 1];
  e[n - 1] = 0;

  // Qᵀ = H_{n-3} ⋯ H_1 H_0, built as ((I·H_{n-3})·H_{n-4})⋯: right-multiplying by H_k changes
  // columns k+1.. of rows k+1.. only, one dot product and one axpy per row, both contiguous.
  const qt = new Float64Array(n * n);
  for (let i = 0; i < n; i++) qt[i * n + i] = 1;
  for (let k = n - 3; k >= 0; k--) {
    const b = beta[k];
    if (b === 0) continue;
    const row = k * n, s = k + 1;
    for (let i = s; i < n; i++) {
      const ri = i * n;
      let dot = 0;
      for (let j = s; j < n; j++) dot += qt[ri + j] * w[row + j];
      const f = b * dot;
      for (let j = s; j < n; j++) qt[ri + j] -= f * w[row + j];
    }
  }
  return qt;
}

/**
 * Diagonalises the tridiagonal (d, e) in place by implicit QL with Wilkinson shifts
 * (Golub & Van Loan §8.3.3, in its QL orientation), applying each rotation to rows i, i+1 of
 * `zt` (Qᵀ), whose rows end up as the eigenvectors of A.
 */
function tridiagonalQL(
  d: Float64Array,
  e: Float64Array,
  zt: Float64Array,
  n: number,
  where: string,
): void {
  let norm = 0;
  for (let i = 0; i < n; i++) norm = Math.max(norm, Math.abs(d[i]) + Math.abs(e[i]));
  // Below this an off-diagonal is negligible even where the diagonal next to it is ~0.
  const floor = EPS * EPS * norm;
  for (let l = 0; l < n; l++) {
    for (let sweep = 0;; sweep++) {
      // The block l..m is unreduced; deflate where e[m] is negligible next to its neighbours.
      let m = l;
      for (; m < n - 1; m++) {
        const em = Math.abs(e[m]);
        if (em <= EPS * (Math.abs(d[m]) + Math.abs(d[m + 1])) || em <= floor) break;
      }
      if (m === l) break;
      if (sweep === MAX_SWEEPS) {
        throw new Error(`${where}: QL iteration did not converge for eigenvalue ${l}`);
      }
      // Wilkinson shift: the eigenvalue of the leading 2×2 block [d_l e_l; e_l d_l+1] closer
      // to d_l, written to avoid cancellation.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1, c = 1, p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        // Chase the bulge upwards with a rotation in the (i, i+1) plane.
        const f = s * e[i], b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) { // f = g = 0: the matrix split; restart on the smaller block
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const r0 = i * n, r1 = r0 + n;
        for (let k = 0; k < n; k++) {
          const zi = zt[r0 + k], zi1 = zt[r1 + k];
          zt[r1 + k] = s * zi + c * zi1;
          zt[r0 + k] = c * zi - s * zi1;
        }
      }
      if (i >= l) continue; // split above: e[m] is now 0, look again
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Orders eigenpairs by descending value, transposes rows of Zᵀ to columns, fixes signs. */
function sortAndNormalise(d: Float64Array, zt: Float64Array, n: number): SymmetricEigen {
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[y] - d[x] || x - y);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const src = order[k] * n;
    values[k] = d[order[k]];
    // An eigenvector is defined up to sign; fixing it makes results reproducible and lets
    // callers compare vectors directly. Ties go to the first largest component.
    let big = 0, at = 0;
    for (let i = 0; i < n; i++) {
      const v = Math.abs(zt[src + i]);
      if (v > big) {
        big = v;
        at = i;
      }
    }
    const sign = zt[src + at] < 0 ? -1 : 1;
    for (let i = 0; i < n; i++) vectors[i * n + k] = sign * zt[src + i];
  }
  return { values, vectors };
}
