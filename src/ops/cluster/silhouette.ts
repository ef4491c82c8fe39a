/**
 * The silhouette of every point as an op (shaders/distance.ts): one thread
 * per point walks all points in tiles and adds each distance to its
 * cluster's accumulator, so the n × n matrix never exists. No autograd.
 * @module
 */
import { featureTile, SIL_TJ, silhouetteKernel } from "../../../shaders/distance.ts";
import { runtime } from "../../gpu/runtime.ts";
import { empty, type Tensor } from "../../tensor/tensor.ts";
import { tensor } from "../creation.ts";
import { launchKernel } from "../kernel_call.ts";

/**
 * Largest number of distinct labels the kernel's per-thread accumulators hold.
 *
 * @example
 * ```ts
 * if (k > SILHOUETTE_MAX_CLUSTERS) console.log("use metrics.silhouetteScore on the host");
 * ```
 */
export const SILHOUETTE_MAX_CLUSTERS = 256;

/** Clusters of the points, as {@link silhouetteRaw} takes them. */
export interface SilhouetteClusters {
  /** Cluster of every point, 0..k−1. */
  codes: Int32Array;
  /** Points in every cluster. */
  counts: Float32Array;
  /** Number of clusters, 2..min(n − 1, {@link SILHOUETTE_MAX_CLUSTERS}). */
  k: number;
}

/**
 * The silhouette coefficient of every row of x [n, d] as a new f32 [n]
 * tensor; 3e38 marks a point whose distance sums are not finite. Throws a
 * RangeError, naming `op`, when a thread's walk would outgrow the driver's
 * loop budget.
 *
 * @example
 * ```ts
 * const s = silhouetteRaw("silhouetteSamplesGpu", x, { codes, counts, k }); // [n]
 * ```
 */
export function silhouetteRaw(op: string, x: Tensor, clusters: SilhouetteClusters): Tensor {
  const { codes, counts, k } = clusters;
  const [n, d] = x.shape;
  const kmax = Math.max(2, 2 ** Math.ceil(Math.log2(k)));
  // Each thread walks every sample in blocks of SIL_TJ, staging and
  // comparing tf features at a time: that walk must fit the loop budget.
  const tf = featureTile(d);
  const perBlock = Math.ceil(d / tf) * (2 * tf + Math.ceil(SIL_TJ * tf / 64)) + 1;
  const iterations = Math.ceil(n / SIL_TJ) * perBlock;
  const budget = runtime().budgets.loopIterations;
  if (iterations > budget) {
    throw new RangeError(
      `${op}: ${n} samples of ${d} features need about ${iterations} loop iterations per ` +
        `invocation; this driver runs at most ${budget} (Mesa < 25's llvmpipe; Mesa >= 25 has ` +
        `no cap). Score a random subset of the samples`,
    );
  }
  const codesT = tensor(codes, [n]);
  const countsT = tensor(counts, [k]);
  const s = empty([n], "f32", op);
  launchKernel(
    op,
    silhouetteKernel({ kmax, tf }),
    { X: x, CODES: codesT, COUNTS: countsT, S: s },
    { n, k, d },
    Math.ceil(n / 64),
  );
  codesT.dispose();
  countsT.dispose();
  return s;
}
