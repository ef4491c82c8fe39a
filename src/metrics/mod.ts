/**
 * Metrics computed on the host in float64: clustering quality against true labels (ACC, NMI,
 * ARI), the silhouette score, and the optimal assignment solver behind ACC.
 *
 * @example
 * ```ts
 * import * as metrics from "./mod.ts";
 * const yTrue = [0, 0, 1, 1, 2, 2];
 * const yPred = [5, 5, 3, 3, 3, 8];
 * metrics.acc(yTrue, yPred); // 5/6
 * metrics.nmi(yTrue, yPred);
 * metrics.ari(yTrue, yPred);
 * ```
 *
 * @module
 */

import { ari, clusteringAccuracy, nmi } from "./clustering.ts";

export {
  ari,
  clusteringAccuracy,
  confusionMatrix,
  contingency,
  entropy,
  matchClusters,
  mutualInfo,
  nmi,
  silhouetteSamples,
  silhouetteScore,
} from "./clustering.ts";
export type { ClusterMatch, ConfusionMatrix, Contingency, NmiAverage } from "./clustering.ts";
export { linearSumAssignment, maxWeightAssignment } from "./hungarian.ts";
export type { Assignment } from "./hungarian.ts";

/**
 * Short name for {@link clusteringAccuracy}: unsupervised clustering accuracy (Xie et al.
 * 2016) under the best one-to-one matching of clusters to classes.
 *
 * @example
 * ```ts
 * acc([0, 0, 1, 1], [1, 1, 0, 0]); // 1
 * ```
 */
export const acc: typeof clusteringAccuracy = clusteringAccuracy;

/**
 * Long name for {@link nmi}: normalised mutual information (arithmetic mean by default).
 *
 * @example
 * ```ts
 * normalizedMutualInfo([0, 0, 1, 1], [0, 0, 1, 2]); // 0.8
 * ```
 */
export const normalizedMutualInfo: typeof nmi = nmi;

/**
 * Long name for {@link ari}: the adjusted Rand index (Hubert & Arabie 1985).
 *
 * @example
 * ```ts
 * adjustedRandIndex([0, 0, 1, 1], [0, 0, 1, 2]); // 0.5714285714285715
 * ```
 */
export const adjustedRandIndex: typeof ari = ari;
