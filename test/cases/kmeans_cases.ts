/**
 * k-means on the GPU against a float64 Lloyd reference with scikit-learn's
 * rules, k-means++ seeding, pairwise distances, the weighted cluster sums,
 * and the GPU silhouette against the float64 host silhouette.
 * @module
 */
import * as lt from "../../src/mod.ts";
import * as internal from "../../src/internal.ts";
import { KMeans, squaredDistances } from "../../src/cluster/kmeans.ts";
import { pairTiles, pairwiseKernel, TI } from "../../shaders/distance.ts";
import { assignNearest, type AssignSpec, directAssignSpec } from "../../src/ops/cluster/kmeans.ts";
import { clusterSums, type SumValue, type SumWeight } from "../../src/ops/cluster/sums.ts";
import { launchKernel } from "../../src/ops/kernel_call.ts";
import { silhouetteSamplesGpu, silhouetteScoreGpu } from "../../src/cluster/silhouette.ts";
import { clusteringAccuracy, silhouetteSamples, silhouetteScore } from "../../src/metrics/mod.ts";
import { assert, assertClose, assertEquals, assertRejects, assertThrows } from "../assert.ts";
import { test } from "../harness.ts";
import { freshRng, type Rng } from "../ref.ts";

/** Gaussian blobs: `k` centres uniform in [-box, box]^d, `n` points with noise `std`. */
function blobs(rng: Rng, n: number, d: number, k: number, std: number, box = 20) {
  const centres = new Float64Array(k * d).map(() => (2 * rng.next() - 1) * box);
  const x = new Float32Array(n * d);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % k;
    for (let f = 0; f < d; f++) x[i * d + f] = centres[y[i] * d + f] + std * rng.normal();
  }
  return { x, y, centres };
}

/** Blobs of noise `std` whose centres are at least `gap` apart (rejection sampling). */
function separatedBlobs(rng: Rng, n: number, d: number, k: number, gap: number, std = 0.5) {
  for (;;) {
    const b = blobs(rng, n, d, k, std);
    let ok = true;
    for (let a = 0; a < k && ok; a++) {
      for (let c = a + 1; c < k && ok; c++) {
        let s = 0;
        for (let f = 0; f < d; f++) s += (b.centres[a * d + f] - b.centres[c * d + f]) ** 2;
        ok = Math.sqrt(s) >= gap;
      }
    }
    if (ok) return b;
  }
}

/** The adapter's own configuration, the GPU one (staged, many chunks) and the CPU one with chunks. */
const CONFIGS: [string, internal.Tuning][] = [
  ["default", {}],
  ["gpu config", { adapter: "gpu", kmeans: { chunkPoints: 24 } }],
  ["cpu config", { adapter: "cpu", kmeans: { chunkPoints: 40 } }],
];

function sqDist(x: ArrayLike<number>, i: number, c: ArrayLike<number>, j: number, d: number) {
  let s = 0;
  for (let f = 0; f < d; f++) s += (x[i * d + f] - c[j * d + f]) ** 2;
  return s;
}

/**
 * Float64 Lloyd with scikit-learn's `_kmeans_single_lloyd` rules: strict
 * convergence when no label changes, else stop when the centre shift is
 * ≤ tol · mean(var(x, axis=0)); empty clusters take the farthest points;
 * a closing assignment with the final centres. `margin` is the smallest
 * relative gap (second − best) / (1 + best) of any assignment, and of the
 * farthest distances a relocation ranks: below float32 rounding a GPU run may
 * decide the other way and follow another trajectory.
 */
function lloydRef(
  x: Float32Array,
  n: number,
  d: number,
  init: ArrayLike<number>,
  k: number,
  maxIter: number,
  tol: number,
) {
  let varSum = 0;
  for (let f = 0; f < d; f++) {
    let m = 0;
    for (let i = 0; i < n; i++) m += x[i * d + f];
    m /= n;
    let v = 0;
    for (let i = 0; i < n; i++) v += (x[i * d + f] - m) ** 2;
    varSum += v / n;
  }
  const tolAbs = (tol * varSum) / d;
  let c = Float64Array.from(init);
  let labels = new Int32Array(n).fill(-1);
  let margin = Infinity;
  const assignAll = (cs: Float64Array) => {
    const lab = new Int32Array(n), mind = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let best = Infinity, second = Infinity, bj = 0;
      for (let j = 0; j < k; j++) {
        const s = sqDist(x, i, cs, j, d);
        if (s < best) [second, best, bj] = [best, s, j];
        else second = Math.min(second, s);
      }
      lab[i] = bj;
      mind[i] = best;
      margin = Math.min(margin, (second - best) / (1 + best));
    }
    return { lab, mind };
  };
  let it = 0;
  const history: number[] = [];
  for (; it < maxIter; it++) {
    const { lab, mind } = assignAll(c);
    history.push(mind.reduce((a, b) => a + b, 0));
    const sums = new Float64Array(k * d), counts = new Float64Array(k);
    for (let i = 0; i < n; i++) {
      counts[lab[i]]++;
      for (let f = 0; f < d; f++) sums[lab[i] * d + f] += x[i * d + f];
    }
    const empties = [...counts.keys()].filter((j) => counts[j] === 0);
    if (empties.length) {
      const order = [...mind.keys()].sort((a, b) => mind[b] - mind[a] || a - b);
      for (let m = 0; m < Math.min(empties.length, n - 1); m++) {
        const [a, b] = [mind[order[m]], mind[order[m + 1]]];
        margin = Math.min(margin, (a - b) / (1 + a));
      }
      empties.forEach((j, m) => {
        const far = order[m], old = lab[far];
        for (let f = 0; f < d; f++) {
          sums[old * d + f] -= x[far * d + f];
          sums[j * d + f] = x[far * d + f];
        }
        counts[old]--;
        counts[j] = 1;
      });
    }
    const next = new Float64Array(k * d);
    let shift = 0;
    for (let j = 0; j < k; j++) {
      for (let f = 0; f < d; f++) {
        const e = j * d + f;
        next[e] = counts[j] > 0 ? sums[e] / counts[j] : c[e];
        shift += (next[e] - c[e]) ** 2;
      }
    }
    const changed = lab.some((v, i) => v !== labels[i]);
    labels = lab;
    c = next;
    if (!changed) {
      it++;
      break;
    }
    if (shift <= tolAbs) {
      it++;
      break;
    }
  }
  const { lab, mind } = assignAll(c);
  return {
    labels: lab,
    centers: c,
    inertia: mind.reduce((a, b) => a + b, 0),
    nIter: it,
    history,
    margin,
  };
}

test("kmeans recovers well-separated blobs exactly (ACC 1.0)", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 301, d = 3, k = 5;
  const { x, y } = separatedBlobs(rng, n, d, k, 8);
  const xt = lt.tensor(x, [n, d]);
  const km = new KMeans({ k, seed: rng.seed, nInit: 2 });
  const r = await km.fit(xt);
  assertEquals(clusteringAccuracy(y, r.labels), 1, `seed ${rng.seed}`);
  // The reported inertia is the one of the returned labels and centres.
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += sqDist(x, i, r.centers, r.labels[i], d);
  assertClose([r.inertia], [inertia], { rtol: 1e-5, label: `inertia, seed ${rng.seed}` });
  // predict() on the training data gives the training labels.
  assertEquals(await km.predict(xt), r.labels);
  km.dispose();
  xt.dispose();
});

test("kmeans inertia never increases across iterations", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 400, d = 4, k = 7;
  const x = rng.uniform(n * d, -1, 1);
  const xt = lt.tensor(x, [n, d]);
  const r = await new KMeans({ k, seed: rng.seed, nInit: 1, init: "random", tol: 0 }).fit(xt, {
    history: true,
  });
  const h = r.inertiaHistory!;
  assertEquals(h.length, r.nIter);
  assert(h.length >= 3, `expected several iterations on uniform data, got ${h.length}`);
  for (let t = 1; t < h.length; t++) {
    assert(h[t] <= h[t - 1] * (1 + 1e-5), `seed ${rng.seed}: inertia rose at ${t}: ${h}`);
  }
  assert(r.inertia <= h[h.length - 1] * (1 + 1e-5), "final inertia above the last iteration's");
  xt.dispose();
});

test("kmeans++ with the same seed is reproducible", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 500, d = 6, k = 8;
  const xt = lt.tensor(rng.normals(n * d), [n, d]);
  const seed = rng.seed;
  const a = await new KMeans({ k, seed, nInit: 2 }).fit(xt);
  const b = await new KMeans({ k, seed, nInit: 2 }).fit(xt);
  assertEquals(b.centers, a.centers, `seed ${seed}: centres`);
  assertEquals(b.labels, a.labels, `seed ${seed}: labels`);
  assertEquals(b.inertia, a.inertia);
  const s1 = new KMeans({ k, seed }).initialCenters(xt);
  const s2 = new KMeans({ k, seed }).initialCenters(xt);
  const s3 = new KMeans({ k, seed: seed + 1 }).initialCenters(xt);
  const [c1, c2, c3] = await Promise.all([s1.toArray(), s2.toArray(), s3.toArray()]);
  assertEquals(c2, c1);
  assert(c3.some((v, i) => v !== c1[i]), "another seed gives other centres");
  for (const t of [xt, s1, s2, s3]) t.dispose();
});

test("kmeans++ seeds are distinct data points, one per well-separated blob", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 1500, d = 2, k = 6; // n > 1024: D² sampling crosses block boundaries
  // A draw misses a blob only if all 3 greedy candidates fall in covered blobs,
  // odds (covered D² mass / total)³ ∝ std⁶: ~1.5e-5 a run at std 0.5
  // (simulated), ~1e-9 at 0.1.
  const { x, y } = separatedBlobs(rng, n, d, k, 12, 0.1);
  const xt = lt.tensor(x, [n, d]);
  const seeds = new KMeans({ k, seed: rng.seed }).initialCenters(xt);
  const c = await seeds.toArray();
  const blobsHit = new Set<number>();
  for (let j = 0; j < k; j++) {
    let found = -1;
    for (let i = 0; i < n && found < 0; i++) if (sqDist(x, i, c, j, d) === 0) found = i;
    assert(found >= 0, `seed ${rng.seed}: centre ${j} is not a data point`);
    blobsHit.add(y[found]);
  }
  // Greedy k-means++ on blobs 120σ apart lands in every blob.
  assertEquals(blobsHit.size, k, `seed ${rng.seed}: blobs covered`);
  seeds.dispose();
  xt.dispose();
});

test("kmeans matches a float64 Lloyd from the same initial centres", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, d, k] of [[257, 7, 5], [97, 1, 3], [130, 19, 17], [61, 8, 4]]) {
    // A point within float32 rounding (< 1e-6 relative here) of a tie at any
    // iteration lets a GPU run split off on another trajectory (measured: one
    // run in 3000 failed; these four shapes come within 1e-5 one draw in 14).
    // Redraw until every decision wins by 1e-5.
    let x: Float32Array, init: Float32Array, ref: ReturnType<typeof lloydRef>;
    do {
      x = rng.normals(n * d);
      // Start from k random data points so both sides begin identically.
      init = new Float32Array(k * d);
      for (let j = 0; j < k; j++) init.set(x.subarray(j * 7 % n * d, (j * 7 % n + 1) * d), j * d);
      ref = lloydRef(x, n, d, init, k, 300, 1e-4);
    } while (ref.margin < 1e-5);
    const xt = lt.tensor(x, [n, d]);
    for (const [config, o] of CONFIGS) {
      const r = await internal.withTuning(
        o,
        () => new KMeans({ k, init, tol: 1e-4 }).fit(xt, { history: true }),
      );
      const tag = `seed ${rng.seed}, ${n}x${d}, k=${k}, ${config}`;
      const diff = [...r.labels.keys()].filter((i) => r.labels[i] !== ref.labels[i]);
      // A float32 run may only disagree on points that are float32 ties under the reference.
      for (const i of diff) {
        const a = sqDist(x, i, ref.centers, r.labels[i], d);
        const b = sqDist(x, i, ref.centers, ref.labels[i], d);
        assert(
          Math.abs(a - b) <= 1e-4 * (1 + b),
          `${tag}: point ${i} labelled ${r.labels[i]} vs ${ref.labels[i]}`,
        );
      }
      if (diff.length === 0) {
        assertClose(r.centers, ref.centers, { rtol: 1e-4, atol: 1e-5, label: `${tag}: centres` });
        assertClose([r.inertia], [ref.inertia], { rtol: 1e-4, label: `${tag}: inertia` });
        assertEquals(r.nIter, ref.nIter, `${tag}: iterations`);
        assertClose(r.inertiaHistory!, ref.history, { rtol: 1e-4, label: `${tag}: history` });
      }
    }
    xt.dispose();
  }
});

test("kmeans relocates an empty cluster to the farthest point, as scikit-learn", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 121, d = 2, k = 4;
  // Two centres far from all data: both clusters are empty after the first assignment.
  const init = new Float32Array([0.5, 0.5, -0.5, -0.5, 1000, 1000, -1000, 1000]);
  // Labels must agree exactly, so redraw the ~1% of draws that come within
  // 1e-5 (relative) of a tie or of a tied farthest point (see lloydRef).
  let x: Float32Array, ref: ReturnType<typeof lloydRef>;
  do {
    x = rng.normals(n * d);
    ref = lloydRef(x, n, d, init, k, 300, 1e-4);
  } while (ref.margin < 1e-5);
  const xt = lt.tensor(x, [n, d]);
  for (const [config, o] of CONFIGS) {
    const r = await internal.withTuning(o, () => new KMeans({ k, init }).fit(xt));
    const tag = `seed ${rng.seed}, ${config}`;
    const counts = new Array(k).fill(0);
    for (const l of r.labels) counts[l]++;
    assert(counts.every((c) => c > 0), `${tag}: a cluster stayed empty: ${counts}`);
    assertEquals(r.labels, ref.labels, `${tag}: labels`);
    assertClose(r.centers, ref.centers, { rtol: 1e-4, atol: 1e-5, label: tag });
  }
  xt.dispose();
});

test("kmeans restarts give the same result however they are batched", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 203, d = 4, k = 6;
  const xt = lt.tensor(rng.normals(n * d), [n, d]);
  const seed = rng.seed;
  for (const init of ["k-means++", "random"] as const) {
    const tag = `seed ${seed}, ${init}`;
    const all = await new KMeans({ k, seed, nInit: 5, init }).fit(xt, { history: true });
    const split = await internal.withTuning(
      { kmeans: { maxRunsPerBatch: 2 } },
      () => new KMeans({ k, seed, nInit: 5, init }).fit(xt, { history: true }),
    );
    assertEquals(split.centers, all.centers, `${tag}: centres`);
    assertEquals(split.labels, all.labels, `${tag}: labels`);
    assertEquals(split.inertia, all.inertia, `${tag}: inertia`);
    assertEquals(split.inertiaHistory, all.inertiaHistory, `${tag}: history`);
    // Run 0 of five restarts is the single run of the same seed: five can only do better.
    const one = await new KMeans({ k, seed, nInit: 1, init }).fit(xt);
    assert(all.inertia <= one.inertia, `${tag}: ${all.inertia} > ${one.inertia}`);
  }
  xt.dispose();
});

test("kmeans with Hamerly's pruning gives exactly the unpruned result", async () => {
  await lt.init();
  const rng = freshRng();
  const cases: [string, Float32Array, number, number, number, Float32Array | null][] = [];
  const b = blobs(rng, 300, 8, 7, 2, 5);
  cases.push(["blobs", b.x, 300, 8, 7, null]);
  cases.push(["uniform", rng.uniform(257 * 12, -1, 1), 257, 12, 10, null]);
  cases.push(["d = 5", rng.normals(150 * 5), 150, 5, 4, null]);
  cases.push(["k = 1", rng.normals(40 * 4), 40, 4, 1, null]);
  // Far centres: empty clusters to relocate (distances recomputed for the farthest points).
  const far = new Float32Array([0.5, 0.5, -0.5, -0.5, 1000, 1000, -1000, 1000]);
  cases.push(["relocation", rng.normals(121 * 2), 121, 2, 4, far]);
  for (const [name, x, n, d, k, init] of cases) {
    const tag = `seed ${rng.seed}, ${name}`;
    const xt = lt.tensor(x, [n, d]);
    const opts = init ? { k, init } : { k, seed: rng.seed, nInit: 3 };
    const plain = await internal.withTuning(
      { kmeans: { prune: false } },
      () => new KMeans(opts).fit(xt),
    );
    const pruned = await internal.withTuning(
      { kmeans: { prune: true } },
      () => new KMeans(opts).fit(xt),
    );
    assertEquals(pruned.labels, plain.labels, `${tag}: labels`);
    assertEquals(pruned.centers, plain.centers, `${tag}: centres`);
    assertEquals(pruned.inertia, plain.inertia, `${tag}: inertia`);
    assertEquals(pruned.nIter, plain.nIter, `${tag}: iterations`);
    xt.dispose();
  }
});

test("kmeans handles k = 1 and n = k", async () => {
  await lt.init();
  const rng = freshRng();
  const x = rng.normals(50 * 3);
  const xt = lt.tensor(x, [50, 3]);
  const one = await new KMeans({ k: 1, nInit: 1 }).fit(xt);
  const mean = [0, 1, 2].map((f) => x.filter((_, e) => e % 3 === f).reduce((a, b) => a + b) / 50);
  assertClose(one.centers, mean, { rtol: 1e-5, atol: 1e-6 });
  assert(one.labels.every((l) => l === 0));
  const few = lt.tensor(x.subarray(0, 12), [4, 3]);
  const all = await new KMeans({ k: 4, nInit: 1 }).fit(few);
  assertEquals(all.inertia, 0);
  assertEquals(new Set(all.labels).size, 4);
  xt.dispose();
  few.dispose();
});

test("kmeans rejects bad input before any GPU work", async () => {
  await lt.init();
  assertThrows(() => new KMeans({ k: 0 }), "KMeans: expected k to be a positive integer, got 0");
  assertThrows(() => new KMeans({ k: 2.5 }), /positive integer, got 2.5/);
  assertThrows(() => new KMeans({ k: 3, tol: -1 }), /tol >= 0/);
  assertThrows(() => new KMeans({ k: 3, maxIter: 0 }), /maxIter/);
  assertThrows(
    () => new KMeans({ k: 3, init: "kmeans" as "random" }),
    /expected init "k-means\+\+", "random"/,
  );
  const small = lt.tensor(new Float32Array(6), [3, 2]);
  await assertRejects(
    () => new KMeans({ k: 4 }).fit(small),
    "KMeans.fit: expected at least k=4 samples, got n=3 (x is [3, 2])",
  );
  const ints = lt.tensor(new Int32Array(6), [3, 2]);
  await assertRejects(
    () => new KMeans({ k: 2 }).fit(ints),
    /f32 tensor \[n, d\], got \[3, 2\] i32/,
  );
  const flat = lt.tensor(new Float32Array(6), [6]);
  await assertRejects(() => new KMeans({ k: 2 }).fit(flat), /got \[6\] f32/);
  await assertRejects(
    () => new KMeans({ k: 2, init: new Float32Array(3) }).fit(small),
    "expected 2 × 2 = 4 initial centre values, got 3",
  );
  for (const bad of [NaN, Infinity, -Infinity]) {
    const x = new Float32Array(20).map((_, i) => i);
    x[13] = bad;
    const xt = lt.tensor(x, [10, 2]);
    await assertRejects(
      () => new KMeans({ k: 2 }).fit(xt),
      /KMeans.fit: x sample 6 holds NaN or ±Inf/,
    );
    xt.dispose();
  }
  await assertRejects(
    () => new KMeans({ k: 2 }).predict(small),
    "KMeans.predict: call fit() first",
  );
  const km = new KMeans({ k: 2, nInit: 1 });
  await km.fit(small);
  await assertRejects(
    () => km.predict(lt.tensor(new Float32Array(3), [1, 3])),
    /expected x \[\*, 2\]/,
  );
  km.dispose();
  for (const t of [small, ints, flat]) t.dispose();
});

test("kmeans frees its temporaries", async () => {
  await lt.init();
  const rng = freshRng();
  const xt = lt.tensor(rng.normals(200 * 3), [200, 3]);
  const before = lt.memory().tensors;
  const km = new KMeans({ k: 4, nInit: 2 });
  await km.fit(xt);
  assertEquals(lt.memory().tensors, before + 1, "only the fitted centres stay");
  km.dispose();
  assertEquals(lt.memory().tensors, before);
  xt.dispose();
});

test("squaredDistances matches float64 on awkward shapes", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, k, d] of [[1, 1, 1], [7, 3, 2], [65, 17, 16], [130, 33, 37], [3, 20, 1]]) {
    const x = rng.uniform(n * d, -2, 2), c = rng.uniform(k * d, -2, 2);
    const out = squaredDistances(lt.tensor(x, [n, d]), lt.tensor(c, [k, d]));
    const ref = new Float64Array(n * k);
    for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) ref[i * k + j] = sqDist(x, i, c, j, d);
    assertEquals(out.shape, [n, k]);
    assertClose(await out.toArray(), ref, {
      rtol: 1e-5,
      atol: 1e-5,
      label: `seed ${rng.seed} ${n}x${k}x${d}`,
    });
  }
  assertThrows(
    () => squaredDistances(lt.zeros([3, 4]), lt.zeros([2, 5])),
    "squaredDistances: expected x [n, d] and c [k, d] with the same d, got [3, 4] and [2, 5]",
  );
});

test("silhouetteScoreGpu matches the float64 silhouetteScore", async () => {
  await lt.init();
  const rng = freshRng();
  for (const [n, d, k] of [[301, 5, 4], [70, 1, 2], [150, 20, 9]]) {
    const x = rng.normals(n * d);
    const labels = rng.ints(n, k);
    const xt = lt.tensor(x, [n, d]);
    const tag = `seed ${rng.seed} ${n}x${d} k=${k}`;
    const s = await silhouetteSamplesGpu(xt, labels).toArray();
    assertClose(s, silhouetteSamples(x, d, labels), { rtol: 1e-4, atol: 2e-5, label: tag });
    const score = await silhouetteScoreGpu(xt, labels);
    assertClose([score], [silhouetteScore(x, d, labels)], { atol: 1e-5, label: tag });
    // Labels as a GPU tensor give the same score.
    const lt32 = lt.tensor(labels, [n]);
    assertEquals(await silhouetteScoreGpu(xt, lt32), score);
    xt.dispose();
    lt32.dispose();
  }
});

test("silhouetteScoreGpu handles blobs, sparse label values and singletons", async () => {
  await lt.init();
  const rng = freshRng();
  const n = 200, d = 2;
  const { x, y } = blobs(rng, n, d, 3, 1);
  const labels = Array.from(y, (v) => [3, 7, 100][v]);
  labels[5] = 42; // a singleton cluster: s = 0 for it
  const xt = lt.tensor(x, [n, d]);
  const s = await silhouetteSamplesGpu(xt, labels).toArray();
  assertEquals(s[5], 0);
  assertClose(s, silhouetteSamples(x, d, labels), { rtol: 1e-4, atol: 2e-5 });
  assertClose([await silhouetteScoreGpu(xt, labels)], [silhouetteScore(x, d, labels)], {
    atol: 1e-5,
    label: `seed ${rng.seed}`,
  });
  await assertRejects(
    () => silhouetteScoreGpu(xt, new Int32Array(n)),
    "silhouetteScoreGpu: expected 2 to n - 1 = 199 clusters, got 1",
  );
  await assertRejects(() => silhouetteScoreGpu(xt, [0, 1]), /expected 200 labels/);
  await assertRejects(
    () => silhouetteScoreGpu(xt, labels.map((v, i) => (i === 9 ? -1 : v))),
    /labels\[9\] is -1/,
  );
  const bad = x.slice();
  bad[7] = NaN;
  const bt = lt.tensor(bad, [n, d]);
  await assertRejects(() => silhouetteScoreGpu(bt, labels), /NaN or infinite/);
  xt.dispose();
  bt.dispose();
});

test("pairwise core: staged (GPU) and direct (CPU adapter) variants match float64", async () => {
  await lt.init();
  const rng = freshRng();
  // The library picks one variant per adapter; both are checked here on any adapter.
  for (const stage of [true, false]) {
    // k = 33: three register blocks of 11; d = 37: three stages with a ragged tail.
    for (const [n, k, d] of [[130, 33, 37], [70, 5, 2]]) {
      const tag = `seed ${rng.seed} ${stage ? "staged" : "direct"} ${n}x${k}x${d}`;
      const x = rng.uniform(n * d, -2, 2), c = rng.uniform(k * d, -2, 2);
      const shift = rng.uniform(d), bias = rng.uniform(k);
      const [xt, ct, st, bt] = [
        lt.tensor(x, [n, d]),
        lt.tensor(c, [k, d]),
        lt.tensor(shift, [d]),
        lt.tensor(bias, [k]),
      ];
      const tiles = pairTiles(k, d, stage);
      const u = { n, k, d };
      const dist = lt.empty([n, k]), dot = lt.empty([n, k]);
      launchKernel(
        "t",
        pairwiseKernel({ combine: "sqdist", ...tiles }),
        { A: xt, B: ct, OUT: dist },
        u,
        Math.ceil(n / TI),
      );
      launchKernel(
        "t",
        pairwiseKernel({ combine: "dot", ...tiles, shiftA: true, biasOut: true }),
        { A: xt, B: ct, SHIFT: st, BIAS: bt, OUT: dot },
        u,
        Math.ceil(n / TI),
      );
      const refDist = new Float64Array(n * k), refDot = new Float64Array(n * k);
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < k; j++) {
          refDist[i * k + j] = sqDist(x, i, c, j, d);
          let s = bias[j];
          for (let f = 0; f < d; f++) s += (x[i * d + f] - shift[f]) * c[j * d + f];
          refDot[i * k + j] = s;
        }
      }
      assertClose(await dist.toArray(), refDist, {
        rtol: 1e-5,
        atol: 1e-5,
        label: `${tag} sqdist`,
      });
      assertClose(await dot.toArray(), refDot, { rtol: 1e-5, atol: 1e-4, label: `${tag} dot` });
      for (const t of [xt, ct, st, bt, dist, dot]) t.dispose();
    }
  }
});

test("kmeans assignment: staged, direct and register-tiled variants over several runs", async () => {
  await lt.init();
  const rng = freshRng();
  // The library picks one variant per adapter; all are checked here on any adapter.
  // k = 33: blocks of 11 (staged) or 11 (tiled); n = 257: a ragged last row block;
  // d = 8, 12: vec4 reads in the tiled variant; d = 37: scalar reads.
  for (const [n, k, d] of [[130, 33, 37], [257, 10, 12], [70, 5, 8], [3, 2, 1]]) {
    const runs = 3, np = Math.ceil(n / 4) * 4;
    const specs: [string, AssignSpec][] = [
      ["staged", pairTiles(k, d, true)],
      ["direct", pairTiles(k, d, false)],
      ["tiled", directAssignSpec(k, d)],
    ];
    const x = rng.uniform(n * d, -2, 2), c = rng.uniform(runs * k * d, -2, 2);
    const xt = lt.tensor(x, [n, d]), ct = lt.tensor(c, [runs, k, d]);
    // Run 1 is done: the gate must leave its labels alone.
    const state = lt.tensor(new Float32Array(runs * 8).map((_, e) => (e === 8 ? 1 : 0)));
    // The tiled variant's row lists: every point for run 0, the odd ones (last first) for run 2.
    const lists = new Uint32Array(runs * (np + 4));
    const odd = [...Array(n).keys()].filter((i) => i % 2 === 1).reverse();
    lists[0] = n;
    for (let i = 0; i < n; i++) lists[4 + i] = i;
    lists[2 * (np + 4)] = odd.length;
    odd.forEach((i, m) => (lists[2 * (np + 4) + 4 + m] = i));
    const listed = (r: number, i: number) => !(r === 2 && i % 2 === 0);
    const listT = lt.tensor(lists);
    for (const [name, spec] of specs) {
      const tag = `seed ${rng.seed} ${name} ${n}x${k}x${d}`;
      const labels = lt.full([runs * np], -1, "i32");
      const mind = lt.full([runs * np], -7), changed = lt.full([runs * np], 7, "u32");
      const bounds = lt.full([runs * np * 2], -7);
      assignNearest("t", {
        layout: spec,
        x: xt,
        centres: ct,
        state,
        labels,
        minDistance: mind,
        changed,
        runs,
        rowStride: np,
        gate: true,
        rows: spec.list ? { list: listT, listStride: np + 4, bounds } : undefined,
      });
      const [lab, mi, ch, bo] = await Promise.all(
        [labels, mind, changed, bounds].map((t) => t.toArray()),
      );
      for (let r = 0; r < runs; r++) {
        for (let i = 0; i < np; i++) {
          const o = r * np + i;
          if (r === 1 || i >= n || (spec.list && !listed(r, i))) {
            assert(
              lab[o] === -1 && mi[o] === -7 && ch[o] === 7,
              `${tag}: run ${r} point ${i} written`,
            );
            continue;
          }
          const ds = [...Array(k).keys()].map((j) => sqDist(x, i, c, r * k + j, d)).sort((a, b) =>
            a - b
          );
          const got = sqDist(x, i, c, r * k + lab[o], d);
          assert(got - ds[0] <= 1e-5 * (1 + ds[0]), `${tag}: run ${r} point ${i} label ${lab[o]}`);
          assertClose([mi[o]], [got], { rtol: 1e-5, atol: 1e-5, label: `${tag}: distance` });
          assertEquals(ch[o], 1, `${tag}: every label changed from -1`);
          if (spec.list) {
            const second = k > 1 ? Math.sqrt(ds[1]) : Math.sqrt(3.4e38);
            assertClose([bo[2 * o], bo[2 * o + 1]], [Math.sqrt(got), second], {
              rtol: 1e-5,
              atol: 1e-5,
              label: `${tag}: bounds`,
            });
          }
        }
      }
      for (const t of [labels, mind, changed, bounds]) t.dispose();
    }
    for (const t of [xt, ct, state, listT]) t.dispose();
  }
});

test("clusterSums matches float64 for every weight and value, over chunks and feature blocks", async () => {
  await lt.init();
  const rng = freshRng();
  // n = 5000: 20 chunks of 250 points; d = 70: two blocks of 64 features; 3 × 1: one chunk.
  for (const [n, d, k] of [[5000, 70, 3], [300, 5, 4], [3, 1, 2]]) {
    const x = rng.uniform(n * d, -2, 2);
    const labels = rng.ints(n, k);
    const weights = rng.uniform(n * k, 0, 1);
    const centres = rng.uniform(k * d, -1, 1);
    const means = rng.uniform(d, -1, 1);
    const [xt, labelsT, weightsT, centresT, meansT] = [
      lt.tensor(x, [n, d]),
      lt.tensor(labels, [n]),
      lt.tensor(weights, [n, k]),
      lt.tensor(centres, [k, d]),
      lt.tensor(means, [d]),
    ];
    const cases: [SumWeight, SumValue][] = [
      ["labels", "x"],
      ["labels", "dev"],
      ["dense", "x"],
      ["dense", "dev"],
      ["ones", "x"],
      ["ones", "sqdev"],
    ];
    for (const [weight, value] of cases) {
      const kk = weight === "ones" ? 1 : k;
      const scale = 0.5;
      const w = (i: number, j: number) =>
        weight === "labels"
          ? (labels[i] === j ? 1 : 0)
          : weight === "dense"
          ? weights[i * k + j]
          : 1;
      const v = (i: number, j: number, f: number) =>
        value === "x"
          ? x[i * d + f]
          : value === "sqdev"
          ? (x[i * d + f] - means[f]) ** 2
          : x[i * d + f] - centres[j * d + f];
      const refSums = new Float64Array(kk * d), refTotals = new Float64Array(kk);
      let scaleOfSums = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < kk; j++) {
          refTotals[j] += w(i, j);
          for (let f = 0; f < d; f++) {
            refSums[j * d + f] += scale * w(i, j) * v(i, j, f);
            scaleOfSums = Math.max(scaleOfSums, Math.abs(scale * w(i, j) * v(i, j, f)));
          }
        }
      }
      const { sums, totals } = clusterSums("t", xt, {
        k: kk,
        weight,
        value,
        labels: labelsT,
        weights: weightsT,
        reference: value === "sqdev" ? meansT : centresT,
        scale,
        totals: true,
      });
      const tag = `seed ${rng.seed} ${n}x${d}x${kk} ${weight}/${value}`;
      // Float32 sums of n terms: error ~ n · ε · the largest term.
      const atol = 4 * n * 6e-8 * scaleOfSums;
      assertEquals(sums.shape, [kk, d], `${tag}: sums shape`);
      assertClose(await sums.toArray(), refSums, { rtol: 1e-5, atol, label: `${tag} sums` });
      assertClose(await totals!.toArray(), refTotals, {
        rtol: 1e-5,
        atol: 4 * n * 6e-8,
        label: `${tag} totals`,
      });
      sums.dispose();
      totals!.dispose();
    }
    assertThrows(
      () => clusterSums("t", xt, { k, weight: "dense", value: "x" }),
      "t: cluster sums dense/x need options.weights",
    );
    for (const t of [xt, labelsT, weightsT, centresT, meansT]) t.dispose();
  }
});
