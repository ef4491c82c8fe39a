/**
 * Clustering metrics and the Hungarian solver against hand-worked values, scikit-learn's
 * documented results and independent brute-force definitions.
 * @module
 */
import { test } from "../harness.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../assert.ts";
import {
  acc,
  ari,
  clusteringAccuracy,
  confusionMatrix,
  contingency,
  entropy,
  linearSumAssignment,
  matchClusters,
  maxWeightAssignment,
  mutualInfo,
  nmi,
  silhouetteSamples,
  silhouetteScore,
} from "../../src/metrics/mod.ts";
import { Rng } from "../ref.ts";

/** Seeded uniform draws (test/ref.ts Rng) so failures reproduce. */
function rng(seed: number): () => number {
  const r = new Rng(seed);
  return () => r.next();
}

function randomLabels(rand: () => number, n: number, k: number): Int32Array {
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = Math.floor(rand() * k);
  return y;
}

/** Every permutation of 0..n-1. */
function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const p of permutations(n - 1)) {
    for (let at = 0; at <= p.length; at++) out.push([...p.slice(0, at), n - 1, ...p.slice(at)]);
  }
  return out;
}

/** ACC by its definition: pad to a square D×D and try every bijection cluster → class. */
function bruteAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < yTrue.length; i++) d = Math.max(d, yTrue[i] + 1, yPred[i] + 1);
  let best = 0;
  for (const m of permutations(d)) {
    let hit = 0;
    for (let i = 0; i < yTrue.length; i++) if (m[yPred[i]] === yTrue[i]) hit++;
    best = Math.max(best, hit);
  }
  return best / yTrue.length;
}

/** ARI by Hubert & Arabie's pair-counting form, looping over all unordered pairs. */
function bruteAri(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const n = yTrue.length;
  let both = 0, sameTrue = 0, samePred = 0;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const t = yTrue[i] === yTrue[j], p = yPred[i] === yPred[j];
      if (t) sameTrue++;
      if (p) samePred++;
      if (t && p) both++;
    }
  }
  const pairs = n * (n - 1) / 2;
  const expected = sameTrue * samePred / pairs;
  return (both - expected) / ((sameTrue + samePred) / 2 - expected);
}

/** Minimum assignment cost by trying every injection of the short side into the long one. */
function bruteAssignment(c: ArrayLike<number>, rows: number, cols: number): number {
  if (rows > cols) {
    const t = new Float64Array(rows * cols);
    for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = c[i * cols + j];
    return bruteAssignment(t, cols, rows);
  }
  const used = new Uint8Array(cols);
  let best = Infinity;
  const go = (i: number, sum: number) => {
    if (i === rows) {
      best = Math.min(best, sum);
      return;
    }
    for (let j = 0; j < cols; j++) {
      if (used[j]) continue;
      used[j] = 1;
      go(i + 1, sum + c[i * cols + j]);
      used[j] = 0;
    }
  };
  go(0, 0);
  return best;
}

/** Checks that an assignment is one-to-one, complete on the short side, and sums correctly. */
function checkAssignment(
  c: ArrayLike<number>,
  rows: number,
  cols: number,
  a: { rowToCol: Int32Array; colToRow: Int32Array; total: number },
): void {
  let pairs = 0, sum = 0;
  for (let i = 0; i < rows; i++) {
    const j = a.rowToCol[i];
    if (j < 0) continue;
    assertEquals(a.colToRow[j], i, `colToRow[${j}]`);
    sum += c[i * cols + j];
    pairs++;
  }
  for (let j = 0; j < cols; j++) if (a.colToRow[j] >= 0) assertEquals(a.rowToCol[a.colToRow[j]], j);
  assertEquals(pairs, Math.min(rows, cols), "number of assigned pairs");
  assertClose([a.total], [sum], { rtol: 1e-12, atol: 1e-12, label: "reported total" });
}

test("linearSumAssignment matches brute force on random square and rectangular matrices", () => {
  const rand = rng(11);
  const shapes = [
    [1, 1],
    [2, 2],
    [3, 3],
    [4, 4],
    [5, 5],
    [6, 6],
    [7, 7],
    [1, 5],
    [5, 1],
    [2, 6],
    [6, 3],
    [3, 7],
    [7, 4],
    [4, 6],
    [6, 5],
  ];
  for (const [rows, cols] of shapes) {
    for (let trial = 0; trial < 8; trial++) {
      // Small integers force many ties; reals exercise the general case.
      const ints = trial % 2 === 0;
      const c = new Float64Array(rows * cols);
      for (let k = 0; k < c.length; k++) {
        c[k] = ints ? Math.floor(rand() * 5) - 2 : (rand() - 0.3) * 100;
      }
      const a = linearSumAssignment(c, rows, cols);
      checkAssignment(c, rows, cols, a);
      const best = bruteAssignment(c, rows, cols);
      assertClose([a.total], [best], {
        rtol: 1e-12,
        atol: 1e-9,
        label: `${rows}x${cols} #${trial}`,
      });
      const neg = c.map((v) => -v);
      const m = maxWeightAssignment(c, rows, cols);
      checkAssignment(c, rows, cols, m);
      assertClose([m.total], [-bruteAssignment(neg, rows, cols)], {
        rtol: 1e-12,
        atol: 1e-9,
        label: `max ${rows}x${cols} #${trial}`,
      });
    }
  }
});

test("linearSumAssignment solves the worked 3x3 example and empty shapes", () => {
  // [4 1 3; 2 0 5; 3 2 2]: rows → columns (1, 0, 2) cost 1 + 2 + 2 = 5; the other five
  // permutations cost 6, 6, 7, 9 and 11.
  const a = linearSumAssignment([4, 1, 3, 2, 0, 5, 3, 2, 2], 3, 3);
  assertEquals(Array.from(a.rowToCol), [1, 0, 2]);
  assertEquals(Array.from(a.colToRow), [1, 0, 2]);
  assertEquals(a.total, 5);
  const e = linearSumAssignment([], 0, 4);
  assertEquals(e.total, 0);
  assertEquals(Array.from(e.colToRow), [-1, -1, -1, -1]);
  // Three rows, one column: only the cheapest row gets it.
  const tall = linearSumAssignment([5, -2, 7], 3, 1);
  assertEquals(Array.from(tall.rowToCol), [-1, 0, -1]);
  assertEquals(tall.total, -2);
  assertThrows(() => linearSumAssignment([1, 2, 3], 2, 2), "expected cost of length 4, got 3");
  assertThrows(() => linearSumAssignment([1, NaN], 1, 2), "cost[0, 1] is NaN");
});

test("clusteringAccuracy, nmi and ari are 1 for a relabelled partition", () => {
  const rand = rng(3);
  const yTrue = randomLabels(rand, 500, 10);
  // Relabel 0..9 → distinct non-contiguous ids, in three array types.
  const ids = [41, 7, 3, 99, 12, 0, 250, 18, 5, 77];
  const asNumbers = Array.from(yTrue, (v) => ids[v]);
  const asUint8 = Uint8Array.from(asNumbers);
  const asInt32 = Int32Array.from(asNumbers);
  for (const yPred of [asNumbers, asUint8, asInt32]) {
    assertEquals(clusteringAccuracy(yTrue, yPred), 1);
    assertClose([nmi(yTrue, yPred)], [1], { rtol: 0, atol: 1e-12 });
    assertClose([nmi(yPred, yTrue, { average: "geometric" })], [1], { rtol: 0, atol: 1e-12 });
    assertEquals(ari(yTrue, yPred), 1);
  }
  const { mapping } = matchClusters(yTrue, asNumbers);
  for (let k = 0; k < 10; k++) assertEquals(mapping.get(ids[k]), k);
  assertEquals(acc(asNumbers, yTrue), 1);
});

test("metrics of a hand-worked 2x3 contingency table match the hand values", () => {
  // Classes 3 and 7 (rows), clusters 10, 20, 30 (columns), n = 10:
  //          10  20  30 | a
  //   3       3   1   0 | 4
  //   7       1   2   3 | 6
  //   b       4   3   3 | 10
  const yTrue = [3, 3, 3, 3, 7, 7, 7, 7, 7, 7];
  const yPred = [10, 10, 10, 20, 10, 20, 20, 30, 30, 30];
  const t = contingency(yTrue, yPred);
  assertEquals(t.classes, [3, 7]);
  assertEquals(t.clusters, [10, 20, 30]);
  assertEquals(Array.from(t.counts), [3, 1, 0, 1, 2, 3]);
  assertEquals(t.n, 10);

  // ACC: two classes, so only two clusters can be matched. The six injections give
  // (10,20)→3+2=5, (10,30)→3+3=6, (20,10)→1+1=2, (20,30)→1+3=4, (30,10)→0+1=1, (30,20)→0+2=2.
  // Best is 3↔10, 7↔30: 6/10.
  assertEquals(clusteringAccuracy(yTrue, yPred), 0.6);
  assertEquals(
    clusteringAccuracy(yTrue, yPred),
    bruteAccuracy([0, 0, 0, 0, 1, 1, 1, 1, 1, 1], [
      0,
      0,
      0,
      1,
      0,
      1,
      1,
      2,
      2,
      2,
    ]),
  );
  const m = matchClusters(yTrue, yPred);
  assertEquals([...m.mapping.entries()], [[10, 3], [30, 7]]);

  // ARI: Σ C(nij,2) = 3+0+0+0+1+3 = 7, Σ C(a,2) = 6+15 = 21, Σ C(b,2) = 6+3+3 = 12,
  // C(10,2) = 45, expected = 21·12/45 = 5.6, max = (21+12)/2 = 16.5,
  // ARI = (7 − 5.6) / (16.5 − 5.6) = 1.4 / 10.9 = 14/109 ≈ 0.128440366972.
  assertClose([ari(yTrue, yPred)], [14 / 109], { rtol: 1e-14, atol: 0 });
  assertClose([ari(yTrue, yPred)], [bruteAri(yTrue, yPred)], { rtol: 1e-14, atol: 0 });

  // MI = Σ nij/N log(N nij/(a_i b_j)) over the five non-zero cells:
  //   0.3 log(30/16) + 0.1 log(10/12) + 0.1 log(10/24) + 0.2 log(20/18) + 0.3 log(30/18)
  //   ≈ 0.188583 − 0.018232 − 0.087547 + 0.021072 + 0.153248 = 0.257123
  const mi = 0.3 * Math.log(30 / 16) + 0.1 * Math.log(10 / 12) + 0.1 * Math.log(10 / 24) +
    0.2 * Math.log(20 / 18) + 0.3 * Math.log(30 / 18);
  assertClose([mi], [0.2571233586732893], { rtol: 1e-12 });
  assertClose([mutualInfo(yTrue, yPred)], [mi], { rtol: 1e-13, atol: 0 });
  // H(true) = −(0.4 log 0.4 + 0.6 log 0.6) ≈ 0.673012; H(pred) = −(0.4 log 0.4 + 2·0.3 log 0.3)
  // ≈ 1.088900.
  const hu = -(0.4 * Math.log(0.4) + 0.6 * Math.log(0.6));
  const hv = -(0.4 * Math.log(0.4) + 0.6 * Math.log(0.3));
  assertClose([entropy(yTrue), entropy(yPred)], [hu, hv], { rtol: 1e-13, atol: 0 });
  // NMI = 0.257123 / avg(0.673012, 1.088900).
  const cases: Array<["arithmetic" | "geometric" | "min" | "max", number, number]> = [
    ["arithmetic", mi / ((hu + hv) / 2), 0.2918686187119915],
    ["geometric", mi / Math.sqrt(hu * hv), 0.3003559515675463],
    ["min", mi / hu, 0.3820488875265707],
    ["max", mi / hv, 0.23613129258430846],
  ];
  for (const [average, formula, decimal] of cases) {
    const got = nmi(yTrue, yPred, { average });
    assertClose([got], [formula], { rtol: 1e-13, atol: 0, label: average });
    assertClose([got], [decimal], { rtol: 1e-12, atol: 0, label: average });
  }
  assertEquals(nmi(yTrue, yPred), nmi(yTrue, yPred, { average: "arithmetic" }));
});

test("nmi, ari and mutualInfo match scikit-learn's documented values", () => {
  // normalized_mutual_info_score([0,0,1,1],[0,0,1,2]) = 0.8: MI = ½log2 + ¼log2 + ¼log2 = log2,
  // H(true) = log2, H(pred) = 1.5 log2, so MI / ((1 + 1.5)/2 · log2) = 0.8.
  assertClose([nmi([0, 0, 1, 1], [0, 0, 1, 2])], [0.8], { rtol: 1e-14, atol: 0 });
  assertClose([mutualInfo([0, 0, 1, 1], [0, 0, 1, 2])], [Math.LN2], { rtol: 1e-14, atol: 0 });
  assertClose([nmi([0, 0, 1, 1], [0, 0, 1, 2], { average: "geometric" })], [1 / Math.sqrt(1.5)], {
    rtol: 1e-14,
    atol: 0,
  });
  assertClose([nmi([0, 0, 1, 1], [0, 0, 1, 2], { average: "min" })], [1], { rtol: 1e-14, atol: 0 });
  assertClose([nmi([0, 0, 1, 1], [0, 0, 1, 2], { average: "max" })], [2 / 3], {
    rtol: 1e-14,
    atol: 0,
  });
  // adjusted_rand_score([0,0,1,1],[0,0,1,2]) = 0.5714285714285715 (= 4/7 up to the last bit):
  // Σ C(nij,2) = 1, Σ C(a,2) = 2, Σ C(b,2) = 1, expected = 2·1/6 = 1/3, max = 1.5,
  // (1 − 1/3) / (1.5 − 1/3) = 4/7.
  assertClose([ari([0, 0, 1, 1], [0, 0, 1, 2])], [0.5714285714285715], { rtol: 1e-15, atol: 0 });
  // Swapping the arguments does not change the symmetric ones.
  assertClose([ari([0, 0, 1, 2], [0, 0, 1, 1])], [4 / 7], { rtol: 1e-15, atol: 0 });
  // adjusted_rand_score([0,0,1,1],[0,1,0,1]) = -0.5: no agreeing pair, expected 2·2/6 = 2/3,
  // max = 2, (0 − 2/3) / (2 − 2/3) = −1/2.
  assertClose([ari([0, 0, 1, 1], [0, 1, 0, 1])], [-0.5], { rtol: 1e-15, atol: 0 });
  assertEquals(nmi([0, 0, 1, 1], [0, 1, 0, 1]), 0);
  assertClose([entropy([0, 0, 1, 1])], [Math.LN2], { rtol: 1e-15, atol: 0 });
  assertEquals(entropy([5, 5, 5]), 0);
});

test("nmi and ari follow scikit-learn's special cases", () => {
  // Both one cluster, and both all singletons: every pair agrees → 1.
  assertEquals(ari([2, 2, 2, 2], [9, 9, 9, 9]), 1);
  assertEquals(nmi([2, 2, 2, 2], [9, 9, 9, 9]), 1);
  assertEquals(ari([0, 1, 2, 3], [3, 2, 1, 0]), 1);
  assertClose([nmi([0, 1, 2, 3], [3, 2, 1, 0])], [1], { rtol: 0, atol: 1e-15 });
  // One cluster against a split: no information → 0.
  assertEquals(ari([0, 0, 0, 0], [0, 1, 2, 3]), 0);
  assertEquals(nmi([0, 0, 0, 0], [0, 1, 2, 3]), 0);
  assertEquals(nmi([0, 0, 1, 1], [0, 0, 0, 0]), 0);
  // One sample.
  assertEquals(ari([4], [1]), 1);
  assertEquals(nmi([4], [1]), 1);
  assertEquals(clusteringAccuracy([4], [1]), 1);
});

test("clusteringAccuracy equals brute force over all bijections on random labelings", () => {
  const rand = rng(5);
  for (let trial = 0; trial < 60; trial++) {
    const k = 1 + Math.floor(rand() * 5), c = 1 + Math.floor(rand() * 6);
    const n = 1 + Math.floor(rand() * 40);
    const yTrue = randomLabels(rand, n, k), yPred = randomLabels(rand, n, c);
    const got = clusteringAccuracy(yTrue, yPred);
    assertClose([got], [bruteAccuracy(yTrue, yPred)], { rtol: 1e-15, atol: 0, label: `#${trial}` });
    // The mapping it reports achieves that accuracy.
    const { mapping } = matchClusters(yTrue, yPred);
    let hit = 0;
    for (let i = 0; i < n; i++) if (mapping.get(yPred[i]) === yTrue[i]) hit++;
    assertClose([hit / n], [got], { rtol: 1e-15, atol: 0 });
  }
});

test("clusteringAccuracy leaves surplus clusters unmatched", () => {
  // Cluster 1 splits class 0; matching 0→0 (2 samples) and 2→1 (3) leaves cluster 1 wrong.
  const yTrue = [0, 0, 0, 1, 1, 1], yPred = [0, 0, 1, 2, 2, 2];
  assertEquals(clusteringAccuracy(yTrue, yPred), 5 / 6);
  assertEquals([...matchClusters(yTrue, yPred).mapping.entries()], [[0, 0], [2, 1]]);
  // Fewer clusters than classes: one class has no cluster.
  assertEquals(clusteringAccuracy([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 1, 1]), 4 / 6);
});

test("ari equals the pair-counting definition on random labelings", () => {
  const rand = rng(9);
  for (let trial = 0; trial < 40; trial++) {
    const n = 2 + Math.floor(rand() * 60);
    const yTrue = randomLabels(rand, n, 1 + Math.floor(rand() * 5));
    // Half the trials correlate the labelings so ARI is far from 0.
    const yPred = trial % 2
      ? randomLabels(rand, n, 1 + Math.floor(rand() * 6))
      : yTrue.map((v) => rand() < 0.7 ? v : Math.floor(rand() * 4));
    const brute = bruteAri(yTrue, yPred);
    if (!Number.isFinite(brute)) continue; // 0/0: both all-one-cluster or all-singletons
    assertClose([ari(yTrue, yPred)], [brute], { rtol: 1e-12, atol: 1e-14, label: `#${trial}` });
  }
});

test("nmi and ari are near 0 for independent random labelings", () => {
  const rand = rng(21);
  const yTrue = randomLabels(rand, 20000, 10), yPred = randomLabels(rand, 20000, 10);
  // E[MI] ≈ (k−1)²/(2n) = 0.002 nats here, so NMI ≈ 0.001; E[ARI] = 0 with sd ≈ 1e-3.
  const v = nmi(yTrue, yPred);
  assert(v > 0 && v < 0.005, `nmi of independent labels is ${v}`);
  const r = ari(yTrue, yPred);
  assert(Math.abs(r) < 0.005, `ari of independent labels is ${r}`);
  const a = clusteringAccuracy(yTrue, yPred);
  assert(a > 0.1 && a < 0.13, `acc of independent labels is ${a}`);
  // A half-correct labeling is clearly in between.
  const half = yTrue.map((t, i) => i % 2 ? t : yPred[i]);
  assert(nmi(yTrue, half) > 0.2 && ari(yTrue, half) > 0.2, "half-correct labeling scores > 0.2");
});

test("confusionMatrix counts over the union of labels or the given ones", () => {
  const { counts, labels } = confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1]);
  assertEquals(labels, [0, 1, 2]);
  assertEquals(Array.from(counts), [1, 0, 0, 0, 0, 1, 0, 1, 1]);
  // Given labels order the rows and drop samples outside them (the pair (0, 0) here).
  const sub = confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1], { labels: [2, 1] });
  assertEquals(sub.labels, [2, 1]);
  assertEquals(Array.from(sub.counts), [1, 1, 1, 0]);
  // Labels seen only in yPred still get a row.
  assertEquals(confusionMatrix([1, 1], [1, 4]).labels, [1, 4]);
  assertThrows(() => confusionMatrix([0], [0], { labels: [1, 1] }), "expected distinct labels");
});

test("metrics reject mismatched, empty, negative and non-integer labels before any work", () => {
  const y100 = new Int32Array(100), y99 = new Int32Array(99);
  assertThrows(
    () => clusteringAccuracy(y100, y99),
    "clusteringAccuracy(yTrue, yPred): expected yPred of length 100 (same as yTrue), got 99",
  );
  assertThrows(
    () => nmi([], []),
    "nmi(yTrue, yPred): expected at least one label, got empty yTrue",
  );
  assertThrows(
    () => ari([0, 1, -1], [0, 1, 1]),
    "ari(yTrue, yPred): expected non-negative integer labels, yTrue[2] is -1",
  );
  assertThrows(
    () => nmi([0, 1, 1], new Float32Array([0, 1.5, 1])),
    "nmi(yTrue, yPred): expected non-negative integer labels, yPred[1] is 1.5",
  );
  assertThrows(() => mutualInfo([0, NaN], [0, 1]), "yTrue[1] is NaN");
  assertThrows(
    () => contingency([0], [0, 1]),
    "contingency(yTrue, yPred): expected yPred of length 1",
  );
  assertThrows(() => entropy([]), "entropy(labels): expected at least one label, got empty labels");
  assertThrows(
    () => nmi([0], [0], { average: "harmonic" as "min" }),
    'expected average "arithmetic", "geometric", "min" or "max", got "harmonic"',
  );
});

test("silhouetteScore of four points on a line is 47/63", () => {
  // x = 0, 1 | 4, 5. Point 0: a = 1, b = (4 + 5)/2 = 4.5, s = 3.5/4.5 = 7/9.
  // Point 1: a = 1, b = (3 + 4)/2 = 3.5, s = 2.5/3.5 = 5/7; points 4 and 5 mirror these.
  // Mean = (7/9 + 5/7)/2 = 47/63.
  const x = new Float64Array([0, 1, 4, 5]);
  assertClose(silhouetteSamples(x, 1, [0, 0, 1, 1]), [7 / 9, 5 / 7, 5 / 7, 7 / 9], {
    rtol: 1e-15,
    atol: 0,
  });
  assertClose([silhouetteScore(x, 1, [6, 6, 2, 2])], [47 / 63], { rtol: 1e-15, atol: 0 });
  // Float32 input gives the same (these values are exact in float32).
  assertClose([silhouetteScore(new Float32Array(x), 1, [0, 0, 1, 1])], [47 / 63], {
    rtol: 1e-15,
    atol: 0,
  });
});

test("silhouette gives singletons 0 and takes b from the nearest other cluster", () => {
  // 2-D: (0,0), (0,2) in cluster 0; (3,4) alone in cluster 1.
  // (0,0): a = 2, b = 5 → 3/5. (0,2): a = 2, b = √13 → 1 − 2/√13. (3,4): singleton → 0.
  const x = new Float64Array([0, 0, 0, 2, 3, 4]);
  const s = silhouetteSamples(x, 2, [0, 0, 1]);
  assertClose(s, [0.6, 1 - 2 / Math.sqrt(13), 0], { rtol: 1e-15, atol: 0 });
  assertClose([silhouetteScore(x, 2, [0, 0, 1])], [(1.6 - 2 / Math.sqrt(13)) / 3], {
    rtol: 1e-15,
    atol: 0,
  });
  // Three clusters on a line: 0, 1 | 3 | 10, 11. For point 1: a = 1, mean distance to {3} is 2
  // and to {10, 11} is 9.5, so b = 2 and s = (2 − 1)/2 = 0.5.
  const line = new Float64Array([0, 1, 3, 10, 11]);
  assertClose([silhouetteSamples(line, 1, [0, 0, 1, 2, 2])[1]], [0.5], { rtol: 1e-15, atol: 0 });
});

test("silhouetteSamples matches a direct per-point float64 computation", () => {
  const rand = rng(17);
  const n = 60, d = 3, k = 4;
  const x = new Float32Array(n * d);
  for (let i = 0; i < x.length; i++) x[i] = rand() * 4 - 2;
  const labels = randomLabels(rand, n, k);
  // Sample 0 alone in cluster 3, to cover the singleton rule.
  labels[0] = 3;
  for (let i = 1; i < n; i++) if (labels[i] === 3) labels[i] = 2;
  const dist = (i: number, j: number) => {
    let s = 0;
    for (let f = 0; f < d; f++) s += (x[i * d + f] - x[j * d + f]) ** 2;
    return Math.sqrt(s);
  };
  const expected: number[] = [];
  for (let i = 0; i < n; i++) {
    const own = [...labels.keys()].filter((j) => j !== i && labels[j] === labels[i]);
    if (own.length === 0) {
      expected.push(0);
      continue;
    }
    const a = own.reduce((s, j) => s + dist(i, j), 0) / own.length;
    let b = Infinity;
    for (let c = 0; c < k; c++) {
      if (c === labels[i]) continue;
      const members = [...labels.keys()].filter((j) => labels[j] === c);
      if (members.length) {
        b = Math.min(
          b,
          members.reduce((s, j) => s + dist(i, j), 0) / members.length,
        );
      }
    }
    expected.push((b - a) / Math.max(a, b));
  }
  assertEquals(expected[0], 0, "sample 0 is a singleton");
  assertClose(silhouetteSamples(x, d, labels), expected, { rtol: 1e-12, atol: 1e-15 });
  const mean = expected.reduce((s, v) => s + v, 0) / n;
  assertClose([silhouetteScore(x, d, labels)], [mean], { rtol: 1e-12, atol: 1e-15 });
});

test("silhouette rejects bad shapes and cluster counts", () => {
  const x = new Float64Array(8);
  assertThrows(
    () => silhouetteScore(new Float64Array(10), 3, [0, 1, 0]),
    "silhouetteScore(x, nFeatures, labels): expected x.length (10) to be a multiple of " +
      "nFeatures (3)",
  );
  assertThrows(() => silhouetteScore(x, 2, [0, 1, 0]), "expected labels of length 4");
  assertThrows(
    () => silhouetteScore(x, 2, [0, 0, 0, 0]),
    "expected 2 to n - 1 = 3 clusters, got 1",
  );
  assertThrows(
    () => silhouetteScore(x, 2, [0, 1, 2, 3]),
    "expected 2 to n - 1 = 3 clusters, got 4",
  );
  assertThrows(
    () => silhouetteSamples(x, 0, [0, 1]),
    "expected nFeatures to be a positive integer",
  );
  assertThrows(() => silhouetteScore(x, 2, [0, 1, -1, 0]), "labels[2] is -1");
  assertThrows(
    () => silhouetteScore(new Float64Array([0, NaN, 1, 2]), 1, [0, 0, 1, 1]),
    "x[1, 0] is NaN",
  );
});
