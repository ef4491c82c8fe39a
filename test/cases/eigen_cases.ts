/**
 * The host symmetric eigen solver against closed forms and the defining identities
 * A v = λ v, VᵀV = I.
 * @module
 */
import { test } from "../harness.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { symmetricEigen } from "../../src/cluster/eigen.ts";
import { Rng } from "../ref.ts";

/** Seeded uniform draws (test/ref.ts Rng) so failures reproduce. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function randomSymmetric(rand: () => number, n: number): Float64Array {
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rand() * 2 - 1;
  }
  return a;
}

/**
 * Checks the defining properties: descending values, A V = V Λ, VᵀV = I, sign convention.
 * Tolerances are relative to the largest |eigenvalue| (backward-stable methods give
 * ‖AV − VΛ‖ ≈ n·eps·‖A‖).
 */
function checkDecomposition(a: Float64Array, n: number, label: string): void {
  const { values, vectors: v } = symmetricEigen(a, n);
  assertEquals(values.length, n);
  assertEquals(v.length, n * n);
  for (let k = 1; k < n; k++) assert(values[k - 1] >= values[k], `${label}: values descending`);
  const scale = Math.max(1, ...Array.from(values, Math.abs));
  const tol = 50 * n * Number.EPSILON * scale;
  let worst = 0;
  for (let k = 0; k < n; k++) {
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * v[j * n + k];
      worst = Math.max(worst, Math.abs(av - values[k] * v[i * n + k]));
    }
  }
  assert(worst <= tol, `${label}: residual |Av − λv| = ${worst} > ${tol}`);
  let orth = 0;
  for (let p = 0; p < n; p++) {
    for (let q = p; q < n; q++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += v[i * n + p] * v[i * n + q];
      orth = Math.max(orth, Math.abs(dot - (p === q ? 1 : 0)));
    }
  }
  assert(orth <= 50 * n * Number.EPSILON, `${label}: |VᵀV − I| = ${orth}`);
  // Trace is preserved.
  let trace = 0, sum = 0;
  for (let i = 0; i < n; i++) trace += a[i * n + i];
  for (const x of values) sum += x;
  assertClose([sum], [trace], { rtol: 1e-12, atol: tol, label: `${label}: trace` });
  for (let k = 0; k < n; k++) {
    let big = 0, at = 0;
    for (let i = 0; i < n; i++) {
      if (Math.abs(v[i * n + k]) > big) [big, at] = [Math.abs(v[i * n + k]), i];
    }
    assert(v[at * n + k] > 0, `${label}: vector ${k} has its largest component positive`);
  }
}

test("symmetricEigen of a diagonal matrix sorts the diagonal with unit vectors", () => {
  const a = new Float64Array([3, 0, 0, 0, 0, -1, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0]);
  const { values, vectors } = symmetricEigen(a, 4);
  assertEquals(Array.from(values), [5, 3, 0, -1]);
  // Columns: e2, e0, e3, e1.
  assertEquals(Array.from(vectors), [0, 1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 1, 0]);
  const one = symmetricEigen([-2.5], 1);
  assertEquals(Array.from(one.values), [-2.5]);
  assertEquals(Array.from(one.vectors), [1]);
});

test("symmetricEigen of 2x2 matrices matches the closed form", () => {
  const rand = rng(2);
  for (let trial = 0; trial < 20; trial++) {
    const p = rand() * 4 - 2, q = rand() * 4 - 2, r = rand() * 4 - 2;
    // [p q; q r]: λ± = (p + r)/2 ± √(((p − r)/2)² + q²); (q, λ − p) is an eigenvector.
    const mid = (p + r) / 2, rad = Math.hypot((p - r) / 2, q);
    const { values, vectors } = symmetricEigen(new Float64Array([p, q, q, r]), 2);
    assertClose(values, [mid + rad, mid - rad], { rtol: 1e-14, atol: 1e-15 });
    for (let k = 0; k < 2; k++) {
      const lam = values[k];
      // Pick the better-conditioned of the two formulas for the eigenvector.
      let [x, y] = Math.abs(lam - p) > Math.abs(lam - r) ? [q, lam - p] : [lam - r, q];
      const len = Math.hypot(x, y);
      [x, y] = [x / len, y / len];
      if (Math.abs(y) > Math.abs(x) ? y < 0 : x < 0) [x, y] = [-x, -y];
      assertClose([vectors[k], vectors[2 + k]], [x, y], { rtol: 1e-13, atol: 1e-14 });
    }
  }
  // [2 1; 1 2]: values 3, 1; vectors (1, 1)/√2 and (−1, 1)/√2 up to sign.
  const { values, vectors } = symmetricEigen([2, 1, 1, 2], 2);
  assertClose(values, [3, 1], { rtol: 1e-15, atol: 1e-15 });
  assertClose([Math.abs(vectors[0]), Math.abs(vectors[2])], [Math.SQRT1_2, Math.SQRT1_2]);
  assertClose([vectors[1] * vectors[3]], [-0.5], { rtol: 1e-14 });
});

test("symmetricEigen of the [-1 2 -1] second-difference matrix matches 2 − 2cos(kπ/(n+1))", () => {
  const n = 40;
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    a[i * n + i] = 2;
    if (i + 1 < n) a[i * n + i + 1] = a[(i + 1) * n + i] = -1;
  }
  const { values, vectors } = symmetricEigen(a, n);
  // Eigenpairs: λ_k = 2 − 2cos(kπ/(n+1)), v_k[j] = √(2/(n+1)) sin(jkπ/(n+1)), j, k = 1..n.
  // Descending order means column c holds k = n − c.
  const expectValues = Array.from(
    { length: n },
    (_, c) => 2 - 2 * Math.cos((n - c) * Math.PI / (n + 1)),
  );
  assertClose(values, expectValues, { rtol: 1e-13, atol: 1e-14 });
  for (let c = 0; c < n; c++) {
    const k = n - c;
    const col = Array.from({ length: n }, (_, j) => vectors[j * n + c]);
    const ref = col.map((_, j) =>
      Math.sqrt(2 / (n + 1)) * Math.sin((j + 1) * k * Math.PI / (n + 1))
    );
    // Compare up to the sign convention: align on the largest component.
    let at = 0;
    for (let j = 1; j < n; j++) if (Math.abs(ref[j]) > Math.abs(ref[at])) at = j;
    const s = Math.sign(ref[at]) * Math.sign(col[at]);
    assertClose(col.map((v) => s * v), ref, { rtol: 0, atol: 1e-12, label: `vector ${k}` });
  }
  checkDecomposition(a, n, "second difference");
});

test("symmetricEigen of random symmetric matrices: n = 1, 2, 7, 50, 150", () => {
  const rand = rng(7);
  for (const n of [1, 2, 7, 50, 150]) {
    const a = randomSymmetric(rand, n);
    const copy = a.slice();
    checkDecomposition(a, n, `n=${n}`);
    assertEquals(a, copy, "input is not modified");
  }
});

test("symmetricEigen recovers a prescribed spectrum with repeated and zero eigenvalues", () => {
  const rand = rng(13);
  const n = 12;
  // A = Q diag(λ) Qᵀ with Q a product of two random Householder reflections (orthogonal).
  const spectrum = [4, 4, 4, 2.5, 1, 0, 0, 0, 0, -1, -3, -3];
  const q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) q[i * n + i] = 1;
  for (let r = 0; r < 2; r++) {
    const u = Array.from({ length: n }, () => rand() - 0.5);
    const uu = u.reduce((s, x) => s + x * x, 0);
    for (let i = 0; i < n; i++) {
      let dot = 0;
      for (let j = 0; j < n; j++) dot += q[i * n + j] * u[j];
      for (let j = 0; j < n; j++) q[i * n + j] -= 2 * dot * u[j] / uu;
    }
  }
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += q[i * n + k] * spectrum[k] * q[j * n + k];
      a[i * n + j] = s;
    }
  }
  for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) a[i * n + j] = a[j * n + i];
  const { values } = symmetricEigen(a, n);
  assertClose(values, spectrum, { rtol: 0, atol: 1e-13 });
  checkDecomposition(a, n, "prescribed spectrum");
  // The identity: every vector is an eigenvector; the result must still be orthonormal.
  const eye = new Float64Array(25);
  for (let i = 0; i < 5; i++) eye[i * 5 + i] = 1;
  assertEquals(Array.from(symmetricEigen(eye, 5).values), [1, 1, 1, 1, 1]);
  checkDecomposition(eye, 5, "identity");
});

test("symmetricEigen of a rank-deficient covariance matches its Gram spectrum", () => {
  // C = XᵀX/m for 8 samples in 30 dimensions has rank ≤ 8: 22 eigenvalues are 0, and the
  // non-zero ones equal those of the 8×8 Gram matrix XXᵀ/m.
  const rand = rng(4);
  const m = 8, d = 30;
  const x = Array.from({ length: m * d }, () => rand() * 2 - 1);
  const c = new Float64Array(d * d), g = new Float64Array(m * m);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = 0;
      for (let r = 0; r < m; r++) s += x[r * d + i] * x[r * d + j];
      c[i * d + j] = s / m;
    }
  }
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let f = 0; f < d; f++) s += x[i * d + f] * x[j * d + f];
      g[i * m + j] = s / m;
    }
  }
  const big = symmetricEigen(c, d).values, small = symmetricEigen(g, m).values;
  assertClose(big.subarray(0, m), small, { rtol: 1e-12, atol: 1e-13 });
  assertClose(big.subarray(m), new Float64Array(d - m), { rtol: 0, atol: 1e-13 });
  checkDecomposition(c, d, "covariance");
});

test("symmetricEigen tolerates float32 asymmetry and rejects bad input", () => {
  // A covariance summed in float32 may differ across the diagonal in the last bits.
  const a = new Float64Array([2, 1 + 1e-7, 1, 2]);
  assertClose(symmetricEigen(a, 2).values, [3 + 5e-8, 1 - 5e-8], { rtol: 1e-14, atol: 1e-15 });
  assertThrows(
    () => symmetricEigen(new Float64Array(8), 3),
    "symmetricEigen(a, n=3): expected a of length n² = 9, got 8",
  );
  assertThrows(
    () => symmetricEigen([1, 2, 0, 1], 2),
    "expected a symmetric matrix, a[1, 0] = 0 but a[0, 1] = 2",
  );
  assertThrows(() => symmetricEigen([1, NaN, NaN, 1], 2), "a[0, 1] is NaN");
  assertThrows(() => symmetricEigen([], 0), "expected n to be a positive integer");
});

test("symmetricEigen is accurate at n = 784 (MNIST PCA size)", () => {
  const rand = rng(1);
  const n = 784;
  const a = randomSymmetric(rand, n);
  // Speed belongs to benchmarks; this case checks accuracy at full size.
  const { values, vectors } = symmetricEigen(a, n);
  // Spot-check residuals of the extreme and a middle eigenpair.
  for (const k of [0, n >> 1, n - 1]) {
    let worst = 0;
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + k];
      worst = Math.max(worst, Math.abs(av - values[k] * vectors[i * n + k]));
    }
    assert(worst < 1e-11, `n=784 residual of pair ${k} is ${worst}`);
  }
}, { browser: false });
