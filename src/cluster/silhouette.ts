/**
 * The silhouette score on the GPU (Rousseeuw 1987), for data sets where the
 * O(n² d) pair loop of the float64 host version (`src/metrics`
 * `silhouetteScore`) is too slow — the 20 000-point blobs study.
 *
 * One kernel computes every point's silhouette: a thread per point walks all
 * points in tiles held in workgroup memory and adds each Euclidean distance
 * to a per-cluster accumulator (Kahan-compensated), so the n × n distance
 * matrix never exists; the library's axis reduction takes the mean. Same
 * conventions as scikit-learn and `src/metrics`: s = 0 for singleton
 * clusters and for a = b = 0; 2 ≤ k ≤ n − 1 clusters required.
 *
 * @module
 */
import { SILHOUETTE_MAX_CLUSTERS, silhouetteRaw } from "../ops/cluster/silhouette.ts";
import { sumAxesRaw } from "../ops/reduce.ts";
import { fmtShape, type Tensor } from "../tensor/tensor.ts";
import { checkMatrix } from "./check.ts";

export { SILHOUETTE_MAX_CLUSTERS } from "../ops/cluster/silhouette.ts";

function prepare(
  op: string,
  x: Tensor,
  labels: ArrayLike<number>,
): { codes: Int32Array; counts: Float32Array; k: number } {
  checkMatrix(op, "x", x);
  const n = x.shape[0];
  if (labels.length !== n) {
    throw new Error(
      `${op}: expected ${n} labels for x ${fmtShape(x.shape)}, got ${labels.length}`,
    );
  }
  const index = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const v = labels[i];
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new Error(`${op}: expected non-negative integer labels, labels[${i}] is ${v}`);
    }
    if (!index.has(v)) index.set(v, 0);
  }
  const values = [...index.keys()].sort((a, b) => a - b);
  values.forEach((v, c) => index.set(v, c));
  const k = values.length;
  if (k < 2 || k > n - 1) {
    throw new Error(`${op}: expected 2 to n - 1 = ${n - 1} clusters, got ${k}`);
  }
  if (k > SILHOUETTE_MAX_CLUSTERS) {
    throw new Error(`${op}: at most ${SILHOUETTE_MAX_CLUSTERS} clusters are supported, got ${k}`);
  }
  const codes = new Int32Array(n);
  const counts = new Float32Array(k);
  for (let i = 0; i < n; i++) {
    codes[i] = index.get(labels[i])!;
    counts[codes[i]]++;
  }
  return { codes, counts, k };
}

/**
 * The silhouette coefficient of every sample as an f32 [n] tensor (GPU,
 * no readback). Labels are any non-negative integers, given on the host.
 *
 * @example
 * ```ts
 * const s = silhouetteSamplesGpu(x, labels); // [n], each in [-1, 1]
 * ```
 */
export function silhouetteSamplesGpu(x: Tensor, labels: ArrayLike<number>): Tensor {
  return samples("silhouetteSamplesGpu", x, labels);
}

function samples(op: string, x: Tensor, labels: ArrayLike<number>): Tensor {
  return silhouetteRaw(op, x, prepare(op, x, labels));
}

/**
 * Mean silhouette coefficient of x [n, d] under `labels` (host array, or an
 * i32/u32 tensor that is read back), computed on the GPU; matches
 * `src/metrics` `silhouetteScore` (float64) to about 1e-5.
 *
 * @example
 * ```ts
 * const score = await silhouetteScoreGpu(x, kmeansLabels);
 * ```
 */
export async function silhouetteScoreGpu(
  x: Tensor,
  labels: ArrayLike<number> | Tensor,
): Promise<number> {
  const op = "silhouetteScoreGpu";
  let host: ArrayLike<number>;
  if (typeof (labels as Tensor).toArray === "function") {
    const t = labels as Tensor;
    if (t.dtype !== "i32" && t.dtype !== "u32") {
      throw new Error(`${op}: expected integer labels (i32 or u32 tensor), got ${t.dtype}`);
    }
    host = await t.toArray();
  } else host = labels as ArrayLike<number>;
  const s = samples(op, x, host);
  // The mean of the samples: mean(s), the library's reduction.
  const mean = sumAxesRaw(s, [0], [1], 1 / s.size, op);
  s.dispose();
  try {
    const v = await mean.item();
    // Valid silhouettes lie in [-1, 1]; the kernel marks non-finite sums with 3e38.
    if (!(Math.abs(v) <= 1 + 1e-5)) {
      throw new Error(`${op}: x contains NaN or infinite values (the mean silhouette is ${v})`);
    }
    return v;
  } finally {
    mean.dispose();
  }
}
