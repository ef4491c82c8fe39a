/**
 * DEC's soft assignment, target distribution and KL loss against float64
 * references; every gradient rule against finite differences; the fused DEC
 * gradient against the composed one.
 * @module
 */
import * as lt from "../../src/mod.ts";
import {
  ClusteringLayer,
  decLoss,
  decLossFused,
  softAssign,
  targetDistribution,
} from "../../src/cluster/soft_assign.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import { gradCheck } from "../gradcheck.ts";
import { test } from "../harness.ts";
import { freshRng, numericGrad } from "../ref.ts";
import { withTuning } from "../../src/internal.ts";

/** Float64 eq. 1 of Xie et al. 2016. */
function refSoftAssign(
  z: ArrayLike<number>,
  mu: ArrayLike<number>,
  n: number,
  k: number,
  d: number,
  alpha: number,
): Float64Array {
  const q = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    // Log-domain with the row maximum subtracted, so the reference never underflows.
    const logw = new Float64Array(k);
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let f = 0; f < d; f++) s += (z[i * d + f] - mu[j * d + f]) ** 2;
      logw[j] = (-(alpha + 1) / 2) * Math.log1p(s / alpha);
    }
    const m = Math.max(...logw);
    let sum = 0;
    for (let j = 0; j < k; j++) sum += Math.exp(logw[j] - m);
    for (let j = 0; j < k; j++) q[i * k + j] = Math.exp(logw[j] - m) / sum;
  }
  return q;
}

/** Float64 eq. 3. */
function refTarget(q: ArrayLike<number>, n: number, k: number): Float64Array {
  const f = new Float64Array(k);
  for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) f[j] += q[i * k + j];
  const p = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += p[i * k + j] = q[i * k + j] ** 2 / f[j];
    for (let j = 0; j < k; j++) p[i * k + j] /= s;
  }
  return p;
}

/** Σp² / Σq² for P = eq. 3 of Q, in float64. */
function sharpening(q: ArrayLike<number>, n: number, k: number): number {
  const p = refTarget(q, n, k);
  let sp = 0, sq = 0;
  for (let e = 0; e < p.length; e++) [sp, sq] = [sp + p[e] ** 2, sq + q[e] ** 2];
  return sp / sq;
}

/** Float64 KL(P‖Q) / n. */
function refKl(p: ArrayLike<number>, q: ArrayLike<number>, n: number): number {
  let s = 0;
  for (let e = 0; e < p.length; e++) if (p[e] > 0) s += p[e] * Math.log(p[e] / q[e]);
  return s / n;
}

/** A row-stochastic [n, k] matrix with entries bounded away from 0. */
function randomStochastic(rng: ReturnType<typeof freshRng>, n: number, k: number): Float32Array {
  const p = rng.uniform(n * k, 0.05, 1);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < k; j++) s += p[i * k + j];
    for (let j = 0; j < k; j++) p[i * k + j] /= s;
  }
  return p;
}

const SHAPES: [number, number, number][] = [[1, 1, 1], [7, 3, 2], [130, 10, 10], [65, 33, 17]];

for (const alpha of [1, 0.5, 3]) {
  test(`softAssign matches float64 eq. 1 (alpha=${alpha}) and rows sum to 1`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const [n, k, d] of SHAPES) {
      const z = rng.normals(n * d, 2), mu = rng.normals(k * d, 2);
      const q = lt.tidy(() => softAssign(lt.tensor(z, [n, d]), lt.tensor(mu, [k, d]), alpha));
      assertEquals(q.shape, [n, k]);
      const got = await q.toArray();
      const tag = `seed ${rng.seed} ${n}x${k}x${d}`;
      assertClose(got, refSoftAssign(z, mu, n, k, d, alpha), {
        rtol: 1e-4,
        atol: 1e-6,
        label: tag,
      });
      const sums = Array.from(
        { length: n },
        (_, i) => Array.from(got.subarray(i * k, (i + 1) * k)).reduce((a, b) => a + b, 0),
      );
      assertClose(sums, new Array(n).fill(1), { rtol: 0, atol: 1e-5, label: `${tag} row sums` });
      q.dispose();
    }
  });
}

test("softAssign stays finite for large alpha and far-away points", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 20, k = 5, d = 3;
  const z = rng.normals(n * d, 300), mu = rng.normals(k * d, 300);
  // b^(−(α+1)/2) underflows float32 here for almost every pair; the ratio form does not.
  const q = lt.tidy(() => softAssign(lt.tensor(z, [n, d]), lt.tensor(mu, [k, d]), 60));
  assertClose(await q.toArray(), refSoftAssign(z, mu, n, k, d, 60), {
    rtol: 1e-3,
    atol: 1e-6,
    label: `seed ${rng.seed}`,
  });
  q.dispose();
});

for (const alpha of [1, 2.5]) {
  for (const [n, k, d] of [[5, 4, 3], [65, 17, 17], [1, 1, 2]] as const) {
    test(`softAssign gradient to z and mu matches finite differences (alpha=${alpha}, ${n}x${k}x${d})`, async () => {
      await lt.init();
      const rng = freshRng();
      await gradCheck({
        label: `softAssign ${n}x${k}x${d}`,
        rng,
        inputs: [
          { data: rng.normals(n * d), shape: [n, d] },
          { data: rng.normals(k * d), shape: [k, d] },
        ],
        forward: ([z, mu]) => softAssign(z, mu, alpha),
        reference: ([z, mu]) => refSoftAssign(z, mu, n, k, d, alpha),
      });
    });
  }
}

test("targetDistribution matches float64 eq. 3, rows sum to 1, and sharpens", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, k, d] of [[1, 1, 1], [300, 10, 10], [37, 3, 5], [600, 20, 4]]) {
    // Sharpening (Σp² ≥ Σq²) is typical, not a theorem: on [37, 3, 5] the
    // float64 ratio is 1.22 ± 0.05 (lowest 1.02 in 3·10^5 draws; a normal
    // tail puts 1 near 1e-5). Redraw those so the check below is about the kernel.
    let z: Float32Array, mu: Float32Array;
    do {
      z = rng.normals(n * d);
      mu = rng.normals(k * d);
    } while (k > 1 && sharpening(refSoftAssign(z, mu, n, k, d, 1), n, k) < 1.01);
    const q = lt.tidy(() => softAssign(lt.tensor(z, [n, d]), lt.tensor(mu, [k, d])));
    const p = targetDistribution(q);
    assert(!p.requiresGrad, "P is a constant target");
    const qh = await q.toArray(), ph = await p.toArray();
    const tag = `seed ${rng.seed} ${n}x${k}`;
    assertClose(ph, refTarget(qh, n, k), { rtol: 1e-4, atol: 1e-6, label: tag });
    let sq = 0, sp = 0;
    for (let i = 0; i < n; i++) {
      let row = 0;
      for (let j = 0; j < k; j++) {
        row += ph[i * k + j];
        sq += qh[i * k + j] ** 2;
        sp += ph[i * k + j] ** 2;
      }
      assertClose([row], [1], { atol: 1e-5, label: `${tag} row ${i}` });
    }
    assert(sp >= sq * (1 - 1e-6), `${tag}: Σp² = ${sp} < Σq² = ${sq}`);
    q.dispose();
    p.dispose();
  }
});

test("decLoss matches float64 KL(P‖Q)/n, with its gradient to q", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, k] of [[1, 1], [9, 4], [300, 10]]) {
    const p = randomStochastic(rng, n, k), q = randomStochastic(rng, n, k);
    const loss = lt.tidy(() => decLoss(lt.tensor(p, [n, k]), lt.tensor(q, [n, k])));
    assertEquals(loss.shape, []);
    assertClose([await loss.item()], [refKl(p, q, n)], {
      rtol: 1e-4,
      atol: 1e-6,
      label: `seed ${rng.seed}`,
    });
    loss.dispose();
  }
  const n = 6, k = 5;
  await gradCheck({
    label: "decLoss",
    rng,
    inputs: [
      { data: randomStochastic(rng, n, k), shape: [n, k], check: false },
      { data: randomStochastic(rng, n, k), shape: [n, k] },
    ],
    forward: ([p, q]) => decLoss(p, q),
    reference: ([p, q]) => [refKl(p, q, n)],
    h: 1e-5,
  });
});

for (const alpha of [1, 2]) {
  test(`decLossFused equals decLoss(p, softAssign(z, mu)) in value and gradient (alpha=${alpha})`, async () => {
    await lt.init();
    const rng = freshRng();
    for (const [n, k, d] of [[9, 4, 3], [150, 10, 10], [70, 17, 18]]) {
      const zh = rng.normals(n * d, 1.5), muh = rng.normals(k * d, 1.5);
      const z = lt.tensor(zh, [n, d]), mu = lt.tensor(muh, [k, d]);
      z.requiresGrad = mu.requiresGrad = true;
      const p = lt.noGrad(() => lt.tidy(() => targetDistribution(softAssign(z, mu, alpha))));
      const tag = `seed ${rng.seed} ${n}x${k}x${d}`;
      const composed = lt.tidy(() => {
        const loss = decLoss(p, softAssign(z, mu, alpha));
        lt.backward(loss);
        return loss;
      });
      const [gz1, gm1] = [await z.grad!.toArray(), await mu.grad!.toArray()];
      z.grad!.dispose();
      mu.grad!.dispose();
      z.grad = mu.grad = null;
      // It adds itself into a running total as it is reduced (DEC's step in fit).
      const start = rng.normals(1)[0];
      const total = lt.tensor(Float32Array.of(start), [1]);
      const fused = lt.tidy(() => {
        const loss = decLossFused(z, mu, p, alpha, { accumulate: { into: total } });
        lt.backward(loss);
        return loss;
      });
      assertClose([await total.item()], [start + await fused.item()], {
        rtol: 1e-6,
        label: `${tag} total`,
      });
      total.dispose();
      const [gz2, gm2] = [await z.grad!.toArray(), await mu.grad!.toArray()];
      assertClose([await fused.item()], [await composed.item()], {
        rtol: 1e-4,
        atol: 1e-7,
        label: tag,
      });
      const scale = (g: ArrayLike<number>) => Math.max(...Array.from(g, Math.abs));
      assertClose(gz2, gz1, { rtol: 1e-3, atol: 1e-4 * scale(gz1), label: `${tag} dz` });
      assertClose(gm2, gm1, { rtol: 1e-3, atol: 1e-4 * scale(gm1), label: `${tag} dmu` });
      // And against float64: KL(P‖Q(z, μ)) with P fixed.
      const ph = Float64Array.from(await p.toArray());
      assertClose([await fused.item()], [refKl(ph, refSoftAssign(zh, muh, n, k, d, alpha), n)], {
        rtol: 1e-4,
        atol: 1e-7,
        label: `${tag} value vs float64`,
      });
      if (n * d <= 100) {
        // The composed gradient itself against finite differences of the float64 loss.
        const f = (zz: Float64Array, mm: Float64Array) =>
          refKl(ph, refSoftAssign(zz, mm, n, k, d, alpha), n);
        const m64 = Float64Array.from(muh), z64 = Float64Array.from(zh);
        assertClose(gz1, numericGrad((v) => f(v, m64), z64), {
          rtol: 2e-3,
          atol: 2e-4,
          label: `${tag} dz fd`,
        });
        assertClose(gm1, numericGrad((v) => f(z64, v), m64), {
          rtol: 2e-3,
          atol: 2e-4,
          label: `${tag} dmu fd`,
        });
      }
      for (const t of [z.grad!, mu.grad!, z, mu, p, composed, fused]) t.dispose();
    }
  });
}

test("decLossFused writes its row terms with q and dz with H, on both tile layouts and either gradient alone", async () => {
  // Against the composed decLoss(p, softAssign(z, mu)), whose value is a
  // reduction over q and whose dz comes from the separate kernel; outputs
  // are poisoned, so a row a fused loop skipped shows as NaN.
  await lt.init();
  const rng = freshRng();
  for (const adapter of ["cpu", "gpu"] as const) {
    for (const [n, k, d] of [[5, 3, 2], [131, 10, 10], [67, 17, 33]]) {
      const zh = rng.normals(n * d, 1.5), muh = rng.normals(k * d, 1.5);
      for (const wants of [[true, true], [true, false], [false, true]]) {
        const z = lt.tensor(zh, [n, d]), mu = lt.tensor(muh, [k, d]);
        const p = lt.noGrad(() => lt.tidy(() => targetDistribution(softAssign(z, mu))));
        [z.requiresGrad, mu.requiresGrad] = wants;
        const grads = async (fused: boolean) => {
          const loss = withTuning({ adapter }, () =>
            lt.tidy(() => {
              const l = fused ? decLossFused(z, mu, p) : decLoss(p, softAssign(z, mu));
              lt.backward(l);
              return l;
            }));
          const out: (ArrayLike<number> | null)[] = [Float32Array.of(await loss.item())];
          loss.dispose();
          for (const t of [z, mu]) {
            out.push(t.grad ? await t.grad.toArray() : null);
            t.grad?.dispose();
            t.grad = null;
          }
          return out;
        };
        const composed = await grads(false), fused = await grads(true);
        const tag = `${adapter} ${n}x${k}x${d} wants ${wants} seed ${rng.seed}`;
        // The value: the soft assignment's row terms, summed over rows.
        assertClose(fused[0]!, composed[0]!, { rtol: 1e-5, atol: 1e-7, label: `${tag} value` });
        for (let i = 1; i < 3; i++) {
          assertEquals(fused[i] !== null, wants[i - 1], `${tag}: gradient ${i} present`);
          if (!composed[i]) continue;
          const scale = Math.max(...Array.from(composed[i]!, Math.abs));
          assertClose(fused[i]!, composed[i]!, {
            rtol: 1e-3,
            atol: 1e-4 * scale,
            label: `${tag} ${i}`,
          });
        }
        for (const t of [z, mu, p]) t.dispose();
      }
    }
  }
});

test("decLossFused gradient matches finite differences", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 10, k = 4, d = 3;
  const p = randomStochastic(rng, n, k);
  await gradCheck({
    label: "decLossFused",
    rng,
    inputs: [
      { data: rng.normals(n * d), shape: [n, d] },
      { data: rng.normals(k * d), shape: [k, d] },
      { data: p, shape: [n, k], check: false },
    ],
    forward: ([z, mu, pt]) => decLossFused(z, mu, pt),
    reference: ([z, mu, pt]) => [refKl(pt, refSoftAssign(z, mu, n, k, d, 1), n)],
  });
});

test("ClusteringLayer holds trainable centres and applies softAssign", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 30, k = 4, d = 5;
  const centers = rng.normals(k * d);
  const layer = new ClusteringLayer({ nClusters: k, dims: d, centers });
  assert(layer.centers.requiresGrad, "centres require grad");
  assertEquals(layer.parameters(), [layer.centers]);
  const zh = rng.normals(n * d);
  const z = lt.tensor(zh, [n, d]);
  const q = layer.apply(z);
  assertClose(await q.toArray(), refSoftAssign(zh, centers, n, k, d, 1), {
    rtol: 1e-4,
    atol: 1e-6,
  });
  const p = targetDistribution(q);
  lt.tidy(() => lt.backward(decLoss(p, q)));
  assert(layer.centers.grad !== null, "the centres receive a gradient");
  // setCenters overwrites in place (the parameter tensor stays the same object).
  const before = layer.centers;
  const other = rng.normals(k * d);
  layer.setCenters(other);
  assertEquals(layer.centers, before);
  assertEquals(await layer.centers.toArray(), other);
  const fromTensor = new ClusteringLayer({
    nClusters: k,
    dims: d,
    centers: lt.tensor(other, [k, d]),
  });
  assertEquals(await fromTensor.centers.toArray(), other);
  const glorot = new ClusteringLayer({ nClusters: k, dims: d, seed: 3 });
  const g = await glorot.centers.toArray();
  const limit = Math.sqrt(6 / (k + d));
  assert(g.every((v) => Math.abs(v) <= limit) && g.some((v) => v !== 0), "Glorot-uniform init");
  assertThrows(
    () => new ClusteringLayer({ nClusters: k, dims: d, centers: new Float32Array(3) }),
    "ClusteringLayer(nClusters=4, dims=5): expected 4 × 5 centre values, got [3]",
  );
  assertThrows(() => layer.setCenters(new Float32Array(7)), /expected 4 × 5 centre values/);
  layer.centers.grad?.dispose();
  for (const t of [z, q, p]) t.dispose();
  for (const l of [layer, fromTensor, glorot]) l.dispose();
});

test("soft assignment ops reject bad input", async () => {
  await lt.init();
  const z = lt.zeros([4, 3]), mu = lt.zeros([2, 5]), q = lt.zeros([4, 2]);
  assertThrows(
    () => softAssign(z, mu),
    "softAssign(alpha=1): expected z [n, d] and mu [k, d] with the same d, got [4, 3] and [2, 5]",
  );
  assertThrows(() => softAssign(z, lt.zeros([2, 3]), 0), /expected alpha > 0/);
  assertThrows(
    () => softAssign(lt.zeros([12]), mu),
    /expected z to be a non-empty f32 tensor \[n, d\], got \[12\]/,
  );
  assertThrows(
    () => decLoss(q, lt.zeros([4, 3])),
    "decLoss: expected p and q of the same shape [n, k], got [4, 2] and [4, 3]",
  );
  assertThrows(() => decLossFused(z, lt.zeros([2, 3]), lt.zeros([4, 3])), /expected p \[4, 2\]/);
  const pg = lt.zeros([4, 2]), mu2 = lt.zeros([2, 3]);
  pg.requiresGrad = true;
  assertThrows(
    () => decLossFused(z, mu2, pg),
    "decLossFused(alpha=1): the target must not require gradients",
  );
  pg.dispose();
  mu2.dispose();
  const two = lt.zeros([2]), mu3 = lt.zeros([2, 3]), before = lt.runtime().dispatchCount;
  assertThrows(
    () => decLossFused(z, mu3, q, 1, { accumulate: { into: two } }),
    "decLossFused(alpha=1): accumulate.into must have 1 element(s) (the result's), got [2]",
  );
  assertEquals(lt.runtime().dispatchCount, before, "no GPU work before the refusal");
  two.dispose();
  mu3.dispose();
  assertThrows(() => targetDistribution(lt.zeros([4], "i32")), /targetDistribution: expected q/);
  for (const t of [z, mu, q]) t.dispose();
});
