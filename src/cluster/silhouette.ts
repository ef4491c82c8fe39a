/**
 * The silhouette score on the GPU (Rousseeuw 1987), for data sets where the
 * O(n² d) pair loop of the float64 host version (`src/metrics`
 * `silhouetteScore`) is too slow — the 20 000-point blobs study.
 *
 * One kernel computes every point's silhouette: a thread per point walks all
 * points in tiles held in workgroup memory and adds each Euclidean distance
 * to a per-cluster accumulator (Kahan-compensated), so the n × n distance
 * matrix never exists; a second, one-workgroup kernel takes the mean. Same
 * conventions as scikit-learn and `src/metrics`: s = 0 for singleton
 * clusters and for a = b = 0; 2 ≤ k ≤ n − 1 clusters required.
 *
 * @module
 */
import { featureTile, SIL_TJ, silhouetteKernel, sumAllKernel } from "../../shaders/distance.ts";
import { runtime } from "../gpu/runtime.ts";
import { tensor } from "../ops/creation.ts";
import { launchKernel } from "../ops/kernel_call.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { checkMatrix } from "./kmeans.ts";

/**
 * Largest number of distinct labels the kernel's per-thread accumulators hold.
 *
 * @example
 * ```ts
 * if (k > SILHOUETTE_MAX_CLUSTERS) console.log("use metrics.silhouetteScore on the host");
 * ```
 */
export const SILHOUETTE_MAX_CLUSTERS = 256;

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
  const { codes, counts, k } = prepare(op, x, labels);
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
  const mean = empty([1], "f32", op);
  launchKernel(
    op,
    sumAllKernel({}),
    { X: s, OUT: mean },
    { n: s.size, scale: 1 / s.size },
    1,
  );
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
