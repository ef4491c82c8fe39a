/**
 * PCA on the GPU: the covariance kernel against float64, explained variance
 * against the float64 eigenvalues of the sample covariance on data with a
 * known structure, orthonormal components, and an exact round trip.
 * @module
 */
import * as lt from "../../src/mod.ts";
import { covariance, PCA } from "../../src/cluster/pca.ts";
import { columnMeans } from "../../src/ops/cluster/sums.ts";
import { symmetricEigen } from "../../src/cluster/eigen.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

function refMeanCov(x: ArrayLike<number>, n: number, d: number) {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let f = 0; f < d; f++) mean[f] += x[i * d + f] / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const va = x[i * d + a] - mean[a];
      for (let b = 0; b < d; b++) cov[a * d + b] += (va * (x[i * d + b] - mean[b])) / (n - 1);
    }
  }
  return { mean, cov };
}

/** |largest| − |second largest| entry of column `m` of a d × d row-major matrix. */
function topTwoGap(v: ArrayLike<number>, d: number, m: number): number {
  const a = Array.from({ length: d }, (_, f) => Math.abs(v[f * d + m])).sort((p, q) => q - p);
  return a[0] - a[1];
}

/** A random d × d rotation (Gram–Schmidt on Gaussian columns), row-major. */
function randomRotation(rng: Rng, d: number): Float64Array {
  const q = Float64Array.from(rng.normals(d * d));
  for (let c = 0; c < d; c++) {
    for (let p = 0; p < c; p++) {
      let dot = 0;
      for (let r = 0; r < d; r++) dot += q[r * d + c] * q[r * d + p];
      for (let r = 0; r < d; r++) q[r * d + c] -= dot * q[r * d + p];
    }
    let norm = 0;
    for (let r = 0; r < d; r++) norm += q[r * d + c] ** 2;
    for (let r = 0; r < d; r++) q[r * d + c] /= Math.sqrt(norm);
  }
  return q;
}

/** Axis-aligned Gaussians with standard deviations `stds`, rotated, shifted by `offset`. */
function structured(rng: Rng, n: number, stds: number[], offset: number): Float32Array {
  const d = stds.length, r = randomRotation(rng, d);
  const x = new Float32Array(n * d);
  for (let i = 0; i < n; i++) {
    const g = stds.map((s) => s * rng.normal());
    for (let a = 0; a < d; a++) {
      let v = offset * (a + 1);
      for (let b = 0; b < d; b++) v += r[a * d + b] * g[b];
      x[i * d + a] = v;
    }
  }
  return x;
}

test("covariance matches float64 on awkward shapes", async () => {
  await lt.init();
  const rng = freshRng();
  // d = 65, 130: more than one 64-wide tile; n = 5000: several row splits.
  for (const [n, d] of [[2, 1], [17, 3], [67, 65], [300, 130], [5000, 3]]) {
    const x = rng.uniform(n * d, -1, 3);
    const xt = lt.tensor(x, [n, d]);
    const mean = columnMeans("test", xt);
    const cov = covariance(xt, mean);
    const ref = refMeanCov(x, n, d);
    const tag = `seed ${rng.seed} ${n}x${d}`;
    assertClose(await mean.toArray(), ref.mean, { rtol: 1e-5, atol: 1e-5, label: `${tag} mean` });
    assertClose(await cov.toArray(), ref.cov, { rtol: 1e-4, atol: 1e-5, label: `${tag} cov` });
    for (const t of [xt, mean, cov]) t.dispose();
  }
});

test("PCA explained variance matches the float64 eigenvalues of the sample covariance", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 600, stds = [5, 3, 2, 1, 0.5, 0.1], d = stds.length;
  // Both sides fix each component's sign by its largest-magnitude entry: if
  // the two largest are within float32 error (~1e-6) of each other the signs
  // may differ (odds ~1e-5 a run). Redraw until they are 1e-3 apart (~1.5% redrawn).
  let x: Float32Array, values: Float64Array, vectors: Float64Array;
  do {
    x = structured(rng, n, stds, 10);
    ({ values, vectors } = symmetricEigen(refMeanCov(x, n, d).cov, d));
  } while ([0, 1, 2, 3].some((m) => topTwoGap(vectors, d, m) < 1e-3));
  const xt = lt.tensor(x, [n, d]);
  const pca = await new PCA({ nComponents: 4 }).fit(xt);
  const tag = `seed ${rng.seed}`;
  assertClose(pca.explainedVariance, values.subarray(0, 4), {
    rtol: 1e-4,
    label: `${tag} variance`,
  });
  const total = values.reduce((a, b) => a + b);
  assertClose(pca.explainedVarianceRatio, values.subarray(0, 4).map((v) => v / total), {
    rtol: 1e-4,
    label: `${tag} ratio`,
  });
  // The sample variances approach the generating ones: √(χ²₅₉₉/599) leaves
  // ±0.2 with odds ~1e-11 (±0.15 was ~2e-7 a component).
  for (let m = 0; m < 4; m++) {
    assert(Math.abs(Math.sqrt(pca.explainedVariance[m]) / stds[m] - 1) < 0.2, `${tag} std ${m}`);
  }
  for (let m = 0; m < 4; m++) {
    const w = pca.components.subarray(m * d, (m + 1) * d);
    // Same axis as float64 and scikit-learn's sign: the largest-magnitude entry is positive.
    assertClose(w, Array.from({ length: d }, (_, f) => vectors[f * d + m]), {
      atol: 2e-3,
      label: `${tag} component ${m}`,
    });
    const big = w.reduce((b, v, f) => (Math.abs(v) > Math.abs(w[b]) ? f : b), 0);
    assert(w[big] > 0, `${tag}: component ${m} sign`);
  }
  pca.dispose();
  xt.dispose();
});

test("PCA components are orthonormal and transform matches (x − μ)Wᵀ", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 200, d = 20, c = 7;
  const x = rng.normals(n * d).map((v, e) => v * (1 + (e % d)));
  const xt = lt.tensor(x, [n, d]);
  const pca = await new PCA({ nComponents: c }).fit(xt);
  const w = pca.components;
  assertEquals(w.length, c * d);
  for (let a = 0; a < c; a++) {
    for (let b = 0; b < c; b++) {
      let dot = 0;
      for (let f = 0; f < d; f++) dot += w[a * d + f] * w[b * d + f];
      assertClose([dot], [a === b ? 1 : 0], {
        atol: 1e-5,
        label: `seed ${rng.seed} W·Wᵀ[${a},${b}]`,
      });
    }
  }
  const { mean } = refMeanCov(x, n, d);
  const ref = new Float64Array(n * c);
  for (let i = 0; i < n; i++) {
    for (let m = 0; m < c; m++) {
      for (let f = 0; f < d; f++) ref[i * c + m] += (x[i * d + f] - mean[f]) * w[m * d + f];
    }
  }
  const z = pca.transform(xt);
  assertEquals(z.shape, [n, c]);
  assertClose(await z.toArray(), ref, {
    rtol: 1e-4,
    atol: 1e-4,
    label: `seed ${rng.seed} transform`,
  });
  for (const t of [xt, z]) t.dispose();
  pca.dispose();
});

for (const whiten of [false, true]) {
  test(`PCA transform then inverseTransform with all components reproduces the data (whiten=${whiten})`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const [n, d] of [[50, 5], [90, 33]]) {
      const x = structured(rng, n, Array.from({ length: d }, (_, f) => 3 / (f + 1)), 4);
      const xt = lt.tensor(x, [n, d]);
      const pca = await new PCA({ whiten }).fit(xt);
      assertEquals(pca.explainedVariance.length, d);
      const z = pca.transform(xt);
      const back = pca.inverseTransform(z);
      const tag = `seed ${rng.seed} ${n}x${d}`;
      assertClose(await back.toArray(), x, { rtol: 1e-4, atol: 2e-4, label: tag });
      if (whiten) {
        // Whitened projections have unit sample variance.
        const zh = await z.toArray();
        for (let m = 0; m < d; m++) {
          let s = 0;
          for (let i = 0; i < n; i++) s += zh[i * d + m] ** 2;
          assertClose([s / (n - 1)], [1], { rtol: 1e-2, label: `${tag} var of z[:, ${m}]` });
        }
      }
      for (const t of [xt, z, back]) t.dispose();
      pca.dispose();
    }
  });
}

test("PCA rejects bad input", async () => {
  await lt.init();
  assertThrows(
    () => new PCA({ nComponents: 0 }),
    "PCA: expected nComponents to be a positive integer, got 0",
  );
  const x = lt.tensor(new Float32Array(12).map((_, i) => i * i), [4, 3]);
  await assertRejects(
    () => new PCA({ nComponents: 5 }).fit(x),
    "PCA.fit: expected nComponents ≤ min(n, d) = 3 for x [4, 3], got 5",
  );
  const one = lt.tensor(new Float32Array(3), [1, 3]);
  await assertRejects(() => new PCA({ nComponents: 1 }).fit(one), /at least 2 samples/);
  const bad = lt.tensor(new Float32Array([1, 2, NaN, 4, 5, 6]), [2, 3]);
  await assertRejects(() => new PCA({ nComponents: 1 }).fit(bad), /NaN or infinite/);
  assertThrows(() => new PCA().transform(x), "PCA.transform: call fit() first");
  const pca = await new PCA({ nComponents: 2 }).fit(x);
  assertThrows(
    () => pca.transform(lt.zeros([2, 4])),
    "PCA.transform: expected x [*, 3], got [2, 4]",
  );
  assertThrows(
    () => pca.inverseTransform(lt.zeros([2, 3])),
    /expected z \[\*, 2\] \(nComponents\)/,
  );
  pca.dispose();
  for (const t of [x, one, bad]) t.dispose();
});
