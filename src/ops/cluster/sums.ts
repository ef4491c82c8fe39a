/**
 * Column sums the clustering code needs, as ops: weighted per-cluster sums
 * ({@link clusterSums}: the centre gradient of the soft assignment, column
 * variances) and plain column sums and means, which are the library's axis
 * reduction (`sumAxesRaw`, what `sum(x, 0)` and `mean(x, 0)` run). No
 * autograd; shapes are the caller's to check.
 * @module
 */
import {
  clusterSumsKernel,
  SUMS_WG,
  type SumValue,
  type SumWeight,
} from "../../../shaders/cluster_sums.ts";
import { runtime } from "../../gpu/runtime.ts";
import { empty, type Tensor } from "../../tensor/tensor.ts";
import { launchKernel } from "../kernel_call.ts";
import { sumAxesRaw } from "../reduce.ts";

export type { SumValue, SumWeight };

/** How {@link clusterSums} splits its points and features. */
export interface SumsPlan {
  /** Point chunks (partials to add afterwards). */
  nChunks: number;
  /** Points per chunk. */
  chunk: number;
  /** Features per workgroup. */
  fc: number;
  /** Feature blocks (ceil(d / fc)). */
  dBlocks: number;
}

function nextPow2(v: number): number {
  return 2 ** Math.ceil(Math.log2(Math.max(1, v)));
}

/**
 * Chunking for {@link clusterSums}: at most 64 chunks of ≥ 256 points, more
 * when a lane's walk would outgrow the driver's loop budget.
 *
 * @example
 * ```ts
 * sumsPlan(70000, 10); // { nChunks: 64, chunk: 1094, fc: 16, dBlocks: 1 }
 * ```
 */
export function sumsPlan(n: number, d: number): SumsPlan {
  const fc = Math.min(64, nextPow2(d));
  // SUMS_WG / fc lanes share a chunk: enough chunks to keep each lane's walk
  // within the loop budget (src/gpu/budget.ts).
  const most = Math.max(1, Math.floor(runtime().budgets.loopIterations * SUMS_WG / fc));
  const nChunks = Math.max(1, Math.min(64, Math.ceil(n / 256)), Math.ceil(n / most));
  return { nChunks, chunk: Math.ceil(n / nChunks), fc, dBlocks: Math.ceil(d / fc) };
}

/** Options of {@link clusterSums}. */
export interface ClusterSumsOptions {
  /** Clusters (1 with `weight: "ones"`). */
  k: number;
  /**
   * How point i counts for cluster j: `labels` — 1 if `labels[i] = j`;
   * `dense` — `weights[i, j]`; `ones` — 1 (a single cluster, k = 1).
   */
  weight: SumWeight;
  /**
   * What is summed per feature f: `x` — x[i, f]; `sqdev` — (x[i, f] −
   * reference[f])²; `dev` — x[i, f] − reference[j, f].
   */
  value: SumValue;
  /** i32 [n] cluster of every point (`weight: "labels"`). */
  labels?: Tensor;
  /** f32 [n, k] weights (`weight: "dense"`). */
  weights?: Tensor;
  /** f32 [d] (`sqdev`) or [k, d] (`dev`) reference the values deviate from. */
  reference?: Tensor;
  /** Multiplies the sums (not the total weights); default 1. */
  scale?: number;
  /** Also return the total weight of every cluster. */
  totals?: boolean;
}

/**
 * Per-cluster column sums of x [n, d] without atomics:
 * `sums[j, f] = scale · Σ_i w(i, j) · value(i, j, f)` as a new [k, d]
 * tensor and, with `totals`, `totals[j] = Σ_i w(i, j)` as a new [k] tensor.
 * Chunks of points are summed by one kernel, the chunks by the axis
 * reduction.
 *
 * @example
 * ```ts
 * // ∂L/∂μ_j = −Σ_i H_ij (z_i − μ_j): dense weights, deviations from the centres.
 * const { sums } = clusterSums("softAssign", z, {
 *   k, weight: "dense", weights: h, value: "dev", reference: mu, scale: -1,
 * });
 * ```
 */
export function clusterSums(
  op: string,
  x: Tensor,
  options: ClusterSumsOptions,
): { sums: Tensor; totals: Tensor | null } {
  const { k, weight, value, scale = 1 } = options;
  const [n, d] = x.shape;
  const need = (t: Tensor | undefined, name: string): Tensor => {
    if (!t) throw new Error(`${op}: cluster sums ${weight}/${value} need options.${name}`);
    return t;
  };
  if (weight === "ones" && k !== 1) {
    throw new Error(`${op}: cluster sums with unit weights take k = 1, got ${k}`);
  }
  // Bound by the names the kernel declares for this weight and value.
  const inputs: Record<string, Tensor> = { X: x };
  if (weight === "labels") inputs.LABELS = need(options.labels, "labels");
  if (weight === "dense") inputs.W = need(options.weights, "weights");
  if (value !== "x") inputs.M = need(options.reference, "reference");
  const plan = sumsPlan(n, d);
  // One chunk: the kernel's partials are the sums (scaled there), no pass after.
  const one = plan.nChunks === 1;
  const part = empty([plan.nChunks, k, d], "f32", op);
  const wpart = empty([plan.nChunks, k], "f32", op);
  launchKernel(
    op,
    clusterSumsKernel({ weight, value, fc: plan.fc }),
    { ...inputs, PART: part, WPART: wpart },
    { n, d, k, chunk: plan.chunk, scale: one ? scale : 1 },
    [plan.nChunks, k, plan.dBlocks],
  );
  const sums = one ? part.view([k, d], op) : sumAxesRaw(part, [0], [k, d], scale, op);
  const totals = !options.totals
    ? null
    : one
    ? wpart.view([k], op)
    : sumAxesRaw(wpart, [0], [k], 1, op);
  part.dispose();
  wpart.dispose();
  return { sums, totals };
}

/**
 * Column sums of x [n, d] (times `scale`) as a new [d] tensor: the raw
 * form of `sum(x, 0)`.
 *
 * @example
 * ```ts
 * const f = columnSums("targetDistribution", q); // soft cluster frequencies [k]
 * ```
 */
export function columnSums(op: string, x: Tensor, scale = 1): Tensor {
  return sumAxesRaw(x, [0], [x.shape[1]], scale, op);
}

/**
 * Column means of x [n, d] as a new [d] tensor: the raw form of `mean(x, 0)`.
 *
 * @example
 * ```ts
 * const mu = columnMeans("PCA.fit", x); // [d]
 * ```
 */
export function columnMeans(op: string, x: Tensor): Tensor {
  return columnSums(op, x, 1 / x.shape[0]);
}
