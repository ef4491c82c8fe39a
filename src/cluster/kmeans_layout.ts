/**
 * How a k-means fit is laid out on the current adapter: which assignment
 * kernel, how many chunks of points the column sums take, whether the sums
 * may run incrementally, how much memory a run needs — and the test hooks
 * ({@link kmeansOverrides}) that pick another adapter's layout.
 * @module
 */
import { runtime } from "../gpu/runtime.ts";
import { type AssignSpec, directAssignSpec, stagedAssignSpec } from "../ops/cluster/kmeans.ts";
import { adapterKind } from "../ops/tuning.ts";

/** Overrides of {@link kmeansOverrides}. */
export interface KMeansOverrides {
  /** Most restarts run side by side (normally only the storage-binding limit splits them). */
  maxRunsPerBatch: number;
  /** Tune as for this kind of adapter instead of the actual one (null: the actual one). */
  adapter: "gpu" | "cpu" | null;
  /** Points per chunk of the column sums (null: the adapter's choice; more than one chunk also turns off the running sums of CPU adapters). */
  chunkPoints: number | null;
  /** Prune the assignment with Hamerly's bounds (null: on CPU adapters, without history). */
  prune: boolean | null;
}

/**
 * Test hooks: batch the restarts more finely, or pick the GPU (or CPU)
 * configuration of the kernels on any adapter, so tests on a CPU adapter
 * also check the GPU path (staged assignment, many chunks per sum).
 *
 * @example
 * ```ts
 * kmeansOverrides.maxRunsPerBatch = 2; // nInit = 5 runs as batches of 2, 2, 1
 * kmeansOverrides.adapter = "gpu";
 * ```
 */
export const kmeansOverrides: KMeansOverrides = {
  maxRunsPerBatch: Infinity,
  adapter: null,
  chunkPoints: null,
  prune: null,
};

/**
 * Whether to lay k-means out for a GPU. CPU adapters (lavapipe,
 * SwiftShader) get the register-tiled, pruned kernels; their several rows
 * per thread come from a row list, since rows computed from the thread index
 * stall SwiftShader's compiler for minutes.
 */
export function onGpu(): boolean {
  const o = kmeansOverrides.adapter;
  return o ? o === "gpu" : adapterKind(runtime().info) === "gpu";
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
  const points = kmeansOverrides.chunkPoints ?? (onGpu() ? 1024 : Infinity);
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
