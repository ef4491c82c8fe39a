/**
 * How a k-means fit is laid out on the current adapter: which assignment
 * kernel, how many chunks of points the column sums take, whether the sums
 * may run incrementally, how much memory a run needs. Tests pick another
 * adapter's layout with `withTuning` (src/ops/tuning.ts).
 * @module
 */
import { runtime } from "../gpu/runtime.ts";
import { type AssignSpec, directAssignSpec, stagedAssignSpec } from "../ops/cluster/kmeans.ts";
import { adapterKind, kmeansChunkPoints } from "../ops/tuning.ts";

/**
 * Whether to lay k-means out for a GPU (src/ops/tuning.ts decides the
 * adapter kind, and `withTuning` overrides it). CPU adapters (lavapipe,
 * SwiftShader) get the register-tiled, pruned kernels; their several rows
 * per thread come from a row list, since rows computed from the thread index
 * stall SwiftShader's compiler for minutes.
 */
export function onGpu(): boolean {
  return adapterKind() === "gpu";
}

/**
 * The assignment kernel's layout for the current adapter: the shared staged
 * pairwise core on GPUs, a direct register tile on CPU adapters.
 *
 * @example
 * ```ts
 * const layout = assignLayout(10, 784); // lavapipe: { tj: 10, stage: false, rows: 4, vec4: true, … }
 * ```
 */
export function assignLayout(k: number, d: number): AssignSpec {
  return onGpu() ? stagedAssignSpec(k, d) : directAssignSpec(k, d);
}

/**
 * Chunks of points in the k-means column sums (a thread walks one chunk):
 * about 1024 points per chunk on GPUs; one on CPU adapters (the columns
 * already give enough threads, and one chunk allows running sums).
 */
export function sumsChunks(n: number, k: number): number {
  const points = kmeansChunkPoints();
  const chunks = Math.max(1, Math.min(128, Math.ceil(n / points)));
  // A thread walks its chunk ceil(k / 16) times, 4 points per loop iteration:
  // enough chunks to keep that within the loop budget (src/gpu/budget.ts).
  const budget = runtime().budgets.loopIterations;
  const most = Math.floor(budget / Math.ceil(k / 16)) * 4;
  if (!(most >= 4)) {
    throw new RangeError(
      `KMeans: a loop budget of ${budget} iterations cannot hold one step over ${k} clusters`,
    );
  }
  return Math.max(chunks, Math.ceil(n / most));
}

/**
 * Whether the running sums (CPU adapters, one chunk) fit the loop budget:
 * their change list is walked by one thread per column, up to n points
 * ceil(k / 16) times.
 */
export function runningSumsFit(n: number, k: number): boolean {
  return n * Math.ceil(k / 16) <= runtime().budgets.loopIterations;
}

/** Largest per-run GPU buffer of a fit, in bytes, for sizing batches of runs. */
export function runBytes(n: number, d: number, k: number, trials: number, chunks: number): number {
  return 4 * Math.max(2 * n + 12, trials * n, chunks * k * (d + 1), k * d);
}
