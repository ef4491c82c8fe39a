/**
 * Clustering on the GPU: k-means, DEC's soft assignment and target
 * distribution, DEC / IDEC / conv-DEC, PCA and silhouette.
 *
 * @example
 * ```ts
 * const dec = new lt.cluster.DEC({ clusters: 10 });
 * ```
 * @module
 */
export {
  KMeans,
  type KMeansFitOptions,
  type KMeansOptions,
  type KMeansResult,
  squaredDistances,
} from "./kmeans.ts";
export {
  ClusteringLayer,
  type ClusteringLayerOptions,
  decLoss,
  decLossFused,
  softAssign,
  targetDistribution,
} from "./soft_assign.ts";
export { silhouetteSamplesGpu, silhouetteScoreGpu } from "./silhouette.ts";
export { PCA, type PCAOptions } from "./pca.ts";
export { symmetricEigen } from "./eigen.ts";
export {
  DEC,
  type DECFitOptions,
  type DECOptions,
  type DECResult,
  type PretrainOptions,
  type RefreshLog,
} from "./dec.ts";
