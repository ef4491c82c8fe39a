/**
 * Clustering metrics on the host, in float64: contingency tables, clustering accuracy (ACC),
 * normalised mutual information (NMI), the adjusted Rand index (ARI) and the silhouette score.
 *
 * Labels are any `ArrayLike<number>` of non-negative integers (`Int32Array`, `Uint8Array`,
 * `number[]`, ...). They need not be 0..k-1: the distinct values are sorted and renumbered, so
 * cluster ids such as `[3, 7, 7]` are fine. Definitions follow scikit-learn, so numbers can be
 * compared with published results computed with it.
 *
 * @module
 */

import { maxWeightAssignment } from "./hungarian.ts";

/** Labels as integers 0..k-1 plus the original value of each. */
interface Coded {
  codes: Int32Array;
  values: number[];
}

/** Throws unless `labels` is a non-empty array of non-negative integers. */
function checkLabels(where: string, name: string, labels: ArrayLike<number>): void {
  if (labels.length === 0) {
    throw new Error(`${where}: expected at least one label, got empty ${name}`);
  }
  for (let i = 0; i < labels.length; i++) {
    const v = labels[i];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new Error(`${where}: expected non-negative integer labels, ${name}[${i}] is ${v}`);
    }
  }
}

/** Validates a (yTrue, yPred) pair: non-empty, equal lengths, non-negative integers. */
function checkPair(where: string, yTrue: ArrayLike<number>, yPred: ArrayLike<number>): void {
  if (yTrue.length === 0) throw new Error(`${where}: expected at least one label, got empty yTrue`);
  if (yPred.length !== yTrue.length) {
    throw new Error(
      `${where}: expected yPred of length ${yTrue.length} (same as yTrue), got ${yPred.length}`,
    );
  }
  checkLabels(where, "yTrue", yTrue);
  checkLabels(where, "yPred", yPred);
}

/** Renumbers validated labels to 0..k-1 in increasing order of value. */
function encode(labels: ArrayLike<number>): Coded {
  const seen = new Set<number>();
  for (let i = 0; i < labels.length; i++) seen.add(labels[i]);
  const values = [...seen].sort((a, b) => a - b);
  const index = new Map<number, number>();
  values.forEach((v, k) => index.set(v, k));
  const codes = new Int32Array(labels.length);
  for (let i = 0; i < labels.length; i++) codes[i] = index.get(labels[i])!;
  return { codes, values };
}

/** Row-major contingency table: `classes.length` rows (true labels) by `clusters.length`
 * columns (predicted labels). */
export interface Contingency {
  /** `counts[i * clusters.length + j]` = number of samples of class i put in cluster j. */
  counts: Int32Array;
  /** The distinct values of yTrue, ascending: the label of each row. */
  classes: number[];
  /** The distinct values of yPred, ascending: the label of each column. */
  clusters: number[];
  /** Number of samples (the sum of all counts). */
  n: number;
}

function tabulate(where: string, yTrue: ArrayLike<number>, yPred: ArrayLike<number>): Contingency {
  checkPair(where, yTrue, yPred);
  const t = encode(yTrue), p = encode(yPred);
  const cols = p.values.length;
  const counts = new Int32Array(t.values.length * cols);
  for (let i = 0; i < t.codes.length; i++) counts[t.codes[i] * cols + p.codes[i]]++;
  return { counts, classes: t.values, clusters: p.values, n: yTrue.length };
}

/**
 * The contingency table of two labelings: how many samples each (class, cluster) pair shares.
 * Rows are the distinct values of `yTrue`, columns those of `yPred`, both ascending.
 *
 * @example
 * ```ts
 * const t = contingency([0, 0, 1, 1], [5, 5, 5, 9]);
 * // t.classes = [0, 1], t.clusters = [5, 9], t.counts = Int32Array [2, 0, 1, 1]
 * ```
 */
export function contingency(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): Contingency {
  return tabulate("contingency(yTrue, yPred)", yTrue, yPred);
}

/** A square confusion matrix over one list of labels. */
export interface ConfusionMatrix {
  /** Row-major `labels.length`² counts: `counts[i * labels.length + j]` = number of samples
   * with true label `labels[i]` predicted as `labels[j]`. */
  counts: Int32Array;
  /** The label of each row and column. */
  labels: number[];
}

/**
 * The confusion matrix of a classifier, as scikit-learn's `confusion_matrix`: rows are true
 * labels, columns predicted labels, over `labels` (default: the union of both, ascending).
 * Samples whose true or predicted label is not in `labels` are not counted. Unlike
 * {@link contingency} it does not match clusters to classes; use it once predicted labels
 * mean the same as true ones (e.g. after {@link matchClusters}).
 *
 * @example
 * ```ts
 * const { counts, labels } = confusionMatrix([0, 1, 2, 2], [0, 2, 2, 1]);
 * // labels = [0, 1, 2]; counts = [1, 0, 0,  0, 0, 1,  0, 1, 1]
 * ```
 */
export function confusionMatrix(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: { labels?: ArrayLike<number> } = {},
): ConfusionMatrix {
  const where = "confusionMatrix(yTrue, yPred)";
  checkPair(where, yTrue, yPred);
  let labels: number[];
  if (options.labels !== undefined) {
    checkLabels(where, "labels", options.labels);
    labels = Array.from(options.labels);
    if (new Set(labels).size !== labels.length) {
      throw new Error(`${where}: expected distinct labels, got [${labels.join(", ")}]`);
    }
  } else {
    const all = new Set<number>();
    for (let i = 0; i < yTrue.length; i++) all.add(yTrue[i]).add(yPred[i]);
    labels = [...all].sort((a, b) => a - b);
  }
  const index = new Map<number, number>();
  labels.forEach((v, k) => index.set(v, k));
  const k = labels.length;
  const counts = new Int32Array(k * k);
  for (let i = 0; i < yTrue.length; i++) {
    const a = index.get(yTrue[i]), b = index.get(yPred[i]);
    if (a !== undefined && b !== undefined) counts[a * k + b]++;
  }
  return { counts, labels };
}

/** The best one-to-one matching of predicted clusters to true classes. */
export interface ClusterMatch {
  /** Fraction of samples whose cluster is matched to their class (this is ACC). */
  accuracy: number;
  /** Predicted label → true label. Clusters left unmatched (more clusters than classes) are
   * absent. */
  mapping: Map<number, number>;
}

/**
 * Matches predicted clusters to true classes one-to-one so that as many samples as possible
 * agree, by the Hungarian method on the contingency table. When the numbers of clusters and
 * classes differ, the surplus ones stay unmatched and their samples count as wrong, exactly as
 * when the table is padded with zeros to a square (what DEC's published code does).
 *
 * @example
 * ```ts
 * const { accuracy, mapping } = matchClusters([0, 0, 1, 1, 2], [1, 1, 0, 0, 0]);
 * // accuracy = 0.8; mapping = Map { 0 => 1, 1 => 0 }
 * ```
 */
export function matchClusters(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): ClusterMatch {
  return match("matchClusters(yTrue, yPred)", yTrue, yPred);
}

function match(where: string, yTrue: ArrayLike<number>, yPred: ArrayLike<number>): ClusterMatch {
  const t = tabulate(where, yTrue, yPred);
  const k = t.classes.length, c = t.clusters.length;
  // Rows = clusters, columns = classes, so rowToCol reads as cluster → class.
  const w = new Float64Array(c * k);
  for (let i = 0; i < k; i++) for (let j = 0; j < c; j++) w[j * k + i] = t.counts[i * c + j];
  const { rowToCol, total } = maxWeightAssignment(w, c, k);
  const mapping = new Map<number, number>();
  for (let j = 0; j < c; j++) {
    if (rowToCol[j] >= 0) mapping.set(t.clusters[j], t.classes[rowToCol[j]]);
  }
  return { accuracy: total / t.n, mapping };
}

/**
 * Unsupervised clustering accuracy, Xie, Girshick & Farhadi 2016 ("Unsupervised Deep
 * Embedding for Clustering Analysis", §4.2):
 * ACC = max over one-to-one maps m of (1/n) Σᵢ 1{yTrueᵢ = m(yPredᵢ)}.
 * The number of clusters may differ from the number of classes (see {@link matchClusters}).
 *
 * @example
 * ```ts
 * clusteringAccuracy([0, 0, 1, 1], [1, 1, 0, 0]); // 1 (a relabelling is a perfect match)
 * clusteringAccuracy([0, 0, 1, 1], [0, 0, 0, 1]); // 0.75
 * ```
 */
export function clusteringAccuracy(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  return match("clusteringAccuracy(yTrue, yPred)", yTrue, yPred).accuracy;
}

/** Σ x log x over counts, skipping zeros (0 log 0 = 0). */
function sumXLogX(counts: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < counts.length; i++) if (counts[i] > 0) s += counts[i] * Math.log(counts[i]);
  return s;
}

/** Entropy (nats) of a distribution given by counts summing to n: log n − Σ c log c / n. */
function entropyOfCounts(counts: ArrayLike<number>, n: number): number {
  // Working with log-counts avoids forming tiny probabilities; clamp the rounding residue of a
  // single-cluster labeling (exactly 0 in exact arithmetic) to 0.
  return Math.max(0, Math.log(n) - sumXLogX(counts) / n);
}

function marginals(t: Contingency): { a: Float64Array; b: Float64Array } {
  const k = t.classes.length, c = t.clusters.length;
  const a = new Float64Array(k), b = new Float64Array(c);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < c; j++) {
      a[i] += t.counts[i * c + j];
      b[j] += t.counts[i * c + j];
    }
  }
  return { a, b };
}

/** I(U; V) from a contingency table, in nats. */
function mutualInfoOf(t: Contingency, a: Float64Array, b: Float64Array): number {
  // I = Σ nᵢⱼ/N · log(N nᵢⱼ / (aᵢ bⱼ)), summed in logs of counts as scikit-learn does.
  const c = t.clusters.length, logN = Math.log(t.n);
  let s = 0;
  for (let i = 0; i < t.classes.length; i++) {
    const logA = Math.log(a[i]);
    for (let j = 0; j < c; j++) {
      const nij = t.counts[i * c + j];
      if (nij > 0) s += nij * (Math.log(nij) + logN - logA - Math.log(b[j]));
    }
  }
  // MI ≥ 0; a negative sum is rounding on independent labelings.
  return Math.max(0, s / t.n);
}

/**
 * Shannon entropy of a labeling in nats, H = −Σₖ pₖ log pₖ with pₖ the fraction of samples
 * labelled k (scikit-learn's `entropy`).
 *
 * @example
 * ```ts
 * entropy([0, 0, 1, 1]); // Math.LN2
 * entropy([4, 4, 4]); // 0
 * ```
 */
export function entropy(labels: ArrayLike<number>): number {
  checkLabels("entropy(labels)", "labels", labels);
  const { codes, values } = encode(labels);
  const counts = new Float64Array(values.length);
  for (let i = 0; i < codes.length; i++) counts[codes[i]]++;
  return entropyOfCounts(counts, labels.length);
}

/**
 * Mutual information between two labelings in nats,
 * I(U; V) = Σᵢⱼ (nᵢⱼ/N) log(N nᵢⱼ / (aᵢ bⱼ)) (scikit-learn's `mutual_info_score`).
 *
 * @example
 * ```ts
 * mutualInfo([0, 0, 1, 1], [0, 0, 1, 2]); // Math.LN2
 * ```
 */
export function mutualInfo(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const t = tabulate("mutualInfo(yTrue, yPred)", yTrue, yPred);
  const { a, b } = marginals(t);
  return mutualInfoOf(t, a, b);
}

/** How {@link nmi} averages the two entropies (Vinh, Epps & Bailey 2010, Table 2). */
export type NmiAverage = "arithmetic" | "geometric" | "min" | "max";

/**
 * Normalised mutual information, NMI = I(U; V) / avg(H(U), H(V)), as scikit-learn's
 * `normalized_mutual_info_score`; the average is arithmetic by default (Vinh, Epps & Bailey
 * 2010, "Information Theoretic Measures for Clusterings Comparison", JMLR 11). Invariant to
 * relabelling. Two single-cluster labelings score 1; otherwise zero information scores 0.
 *
 * @example
 * ```ts
 * nmi([0, 0, 1, 1], [1, 1, 0, 0]); // 1
 * nmi([0, 0, 1, 1], [0, 0, 1, 2]); // 0.8
 * nmi([0, 0, 1, 1], [0, 0, 1, 2], { average: "geometric" }); // 0.8164965809277261
 * ```
 */
export function nmi(
  yTrue: ArrayLike<number>,
  yPred: ArrayLike<number>,
  options: { average?: NmiAverage } = {},
): number {
  const where = "nmi(yTrue, yPred)";
  const average = options.average ?? "arithmetic";
  if (!["arithmetic", "geometric", "min", "max"].includes(average)) {
    throw new Error(
      `${where}: expected average "arithmetic", "geometric", "min" or "max", got "${average}"`,
    );
  }
  const t = tabulate(where, yTrue, yPred);
  // scikit-learn's special case: both labelings put everything in one cluster.
  if (t.classes.length === 1 && t.clusters.length === 1) return 1;
  const { a, b } = marginals(t);
  const mi = mutualInfoOf(t, a, b);
  // With the case above excluded, zero information cannot be a perfect match.
  if (mi === 0) return 0;
  const hu = entropyOfCounts(a, t.n), hv = entropyOfCounts(b, t.n);
  const norm = average === "arithmetic"
    ? (hu + hv) / 2
    : average === "geometric"
    ? Math.sqrt(hu * hv)
    : average === "min"
    ? Math.min(hu, hv)
    : Math.max(hu, hv);
  // mi > 0 implies both entropies > 0; rounding may still push the ratio a hair past 1.
  return Math.min(1, mi / norm);
}

/**
 * Adjusted Rand index (Hubert & Arabie 1985, "Comparing partitions", J. Classification 2),
 * as scikit-learn's `adjusted_rand_score`: the Rand index corrected for chance, 1 for
 * identical partitions (up to relabelling), about 0 for independent ones, possibly negative.
 * As in scikit-learn, labelings that agree on every pair (including both being one cluster,
 * or both all singletons) score exactly 1.
 *
 * @example
 * ```ts
 * ari([0, 0, 1, 1], [1, 1, 0, 0]); // 1
 * ari([0, 0, 1, 1], [0, 0, 1, 2]); // 0.5714285714285715
 * ```
 */
export function ari(yTrue: ArrayLike<number>, yPred: ArrayLike<number>): number {
  const t = tabulate("ari(yTrue, yPred)", yTrue, yPred);
  const { a, b } = marginals(t);
  // Pair confusion counts over ordered pairs (scikit-learn's pair_confusion_matrix):
  // tp = Σnᵢⱼ² − n, fp = Σbⱼ² − Σnᵢⱼ², fn = Σaᵢ² − Σnᵢⱼ², tn = n² − fp − fn − Σnᵢⱼ².
  // Each sum is an integer below 2⁵³ for any n that fits in memory, so exact in float64.
  let sumN2 = 0, sumA2 = 0, sumB2 = 0;
  for (let k = 0; k < t.counts.length; k++) sumN2 += t.counts[k] * t.counts[k];
  for (let i = 0; i < a.length; i++) sumA2 += a[i] * a[i];
  for (let j = 0; j < b.length; j++) sumB2 += b[j] * b[j];
  const n = BigInt(t.n), s = BigInt(sumN2);
  const tp = s - n, fp = BigInt(sumB2) - s, fn = BigInt(sumA2) - s;
  const tn = n * n - fp - fn - s;
  if (fp === 0n && fn === 0n) return 1;
  // The products reach n⁴ (≫ 2⁵³ at MNIST sizes) and the numerator is a difference of two of
  // them, so form both exactly in BigInt and round only once each.
  const num = 2n * (tp * tn - fn * fp);
  const den = (tp + fn) * (fn + tn) + (tp + fp) * (fp + tn);
  return Number(num) / Number(den);
}

/** Checks silhouette inputs; returns the number of samples and the coded labels. */
function silhouetteInput(
  where: string,
  x: Float32Array | Float64Array,
  nFeatures: number,
  labels: ArrayLike<number>,
): { n: number; coded: Coded } {
  if (!Number.isInteger(nFeatures) || nFeatures < 1) {
    throw new Error(`${where}: expected nFeatures to be a positive integer, got ${nFeatures}`);
  }
  if (x.length % nFeatures !== 0) {
    throw new Error(
      `${where}: expected x.length (${x.length}) to be a multiple of nFeatures (${nFeatures})`,
    );
  }
  const n = x.length / nFeatures;
  if (labels.length !== n) {
    throw new Error(
      `${where}: expected labels of length ${n} (x holds ${n} samples of ${nFeatures} ` +
        `features), got ${labels.length}`,
    );
  }
  checkLabels(where, "labels", labels);
  const coded = encode(labels);
  const k = coded.values.length;
  // scikit-learn's rule: the score is undefined for one cluster or for all singletons.
  if (k < 2 || k > n - 1) {
    throw new Error(`${where}: expected 2 to n - 1 = ${n - 1} clusters, got ${k}`);
  }
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new Error(
        `${where}: expected finite x, x[${Math.floor(i / nFeatures)}, ${i % nFeatures}] is ${x[i]}`,
      );
    }
  }
  return { n, coded };
}

/**
 * The silhouette coefficient of every sample (Rousseeuw 1987, "Silhouettes: a graphical aid
 * to the interpretation and validation of cluster analysis", J. Comput. Appl. Math. 20):
 * s(i) = (b − a) / max(a, b), where a is the mean Euclidean distance from i to the other
 * members of its cluster and b the smallest mean distance from i to another cluster's
 * members; s(i) = 0 when i's cluster is a singleton (scikit-learn's `silhouette_samples`).
 *
 * Exact float64 reference: distances are sums of squared differences, not the |x|² + |y|² −
 * 2x·y shortcut, and every pair is visited once, O(n² · nFeatures).
 *
 * @example
 * ```ts
 * // Four points on a line, x = 0, 1 | 4, 5.
 * silhouetteSamples(new Float64Array([0, 1, 4, 5]), 1, [0, 0, 1, 1]);
 * // Float64Array [7/9, 5/7, 5/7, 7/9]
 * ```
 */
export function silhouetteSamples(
  x: Float32Array | Float64Array,
  nFeatures: number,
  labels: ArrayLike<number>,
): Float64Array {
  const { n, coded } = silhouetteInput(
    "silhouetteSamples(x, nFeatures, labels)",
    x,
    nFeatures,
    labels,
  );
  return silhouette(x, nFeatures, n, coded);
}

/**
 * Mean silhouette coefficient over all samples (see {@link silhouetteSamples}), as
 * scikit-learn's `silhouette_score` with the Euclidean metric: near 1 for tight, well
 * separated clusters, near 0 for overlapping ones, negative for misassigned samples.
 * `x` is row-major, `labels.length` samples of `nFeatures` each. Needs 2 to n − 1 clusters.
 *
 * @example
 * ```ts
 * silhouetteScore(new Float64Array([0, 1, 4, 5]), 1, [0, 0, 1, 1]); // 47/63 ≈ 0.746
 * ```
 */
export function silhouetteScore(
  x: Float32Array | Float64Array,
  nFeatures: number,
  labels: ArrayLike<number>,
): number {
  const { n, coded } = silhouetteInput(
    "silhouetteScore(x, nFeatures, labels)",
    x,
    nFeatures,
    labels,
  );
  const s = silhouette(x, nFeatures, n, coded);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i];
  return sum / n;
}

function silhouette(
  x: Float32Array | Float64Array,
  d: number,
  n: number,
  { codes, values }: Coded,
): Float64Array {
  const k = values.length;
  const size = new Float64Array(k);
  for (let i = 0; i < n; i++) size[codes[i]]++;
  // dist[i * k + c] = Σ over members j of cluster c of ‖xᵢ − xⱼ‖, each pair computed once.
  const dist = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const xi = i * d, ci = codes[i];
    for (let j = i + 1; j < n; j++) {
      const xj = j * d;
      let s = 0;
      for (let f = 0; f < d; f++) {
        const diff = x[xi + f] - x[xj + f];
        s += diff * diff;
      }
      const r = Math.sqrt(s);
      dist[i * k + codes[j]] += r;
      dist[j * k + ci] += r;
    }
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const ci = codes[i];
    if (size[ci] === 1) continue; // singleton: s = 0 by convention
    const a = dist[i * k + ci] / (size[ci] - 1);
    let b = Infinity;
    for (let c = 0; c < k; c++) if (c !== ci) b = Math.min(b, dist[i * k + c] / size[c]);
    const m = Math.max(a, b);
    // a = b = 0 (duplicate points across clusters) is 0/0; scikit-learn maps that NaN to 0.
    out[i] = m > 0 ? (b - a) / m : 0;
  }
  return out;
}
