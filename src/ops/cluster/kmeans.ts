/**
 * The steps of a k-means fit as ops, batched over runs (shaders/kmeans/):
 * the GPU buffers of a batch of runs ({@link KMeansBuffers}), the
 * assignment ({@link assignNearest}), Hamerly's pruning, the column sums
 * (full or running), empty-cluster relocation, the centre update and the
 * per-run convergence bookkeeping. Each op records its dispatches and reads
 * nothing back; the fit loop (src/cluster/kmeans.ts) decides which steps run
 * and reads the run states.
 * @module
 */
import {
  assignKernel,
  assignRowsPerGroup,
  type AssignSpec,
  centreShiftKernel,
  changeListKernel,
  KMEANS_STATE_SIZE,
  KSUMS_WG,
  pruneKernel,
  relocateKernel,
  resetKernel,
  runningSumsKernel,
  statsKernel,
  sumsKernel,
  updateKernel,
} from "../../../shaders/kmeans/mod.ts";
import { pairTiles } from "../../../shaders/distance.ts";
import { runtime } from "../../gpu/runtime.ts";
import { empty, type Tensor } from "../../tensor/tensor.ts";
import { fillInPlace, tensor } from "../creation.ts";
import { launchKernel } from "../kernel_call.ts";

export {
  type AssignSpec,
  directAssignSpec,
  KMEANS_STATE,
  KMEANS_STATE_SIZE,
  KSUMS_MAX_RUNS,
} from "../../../shaders/kmeans/mod.ts";

/**
 * The staged assignment layout of GPUs: the pairwise core's tiles, operands
 * staged through workgroup memory (`directAssignSpec` is the CPU adapters').
 *
 * @example
 * ```ts
 * stagedAssignSpec(10, 784); // { tj: 10, tf: 16, stage: true }
 * ```
 */
export function stagedAssignSpec(k: number, d: number): AssignSpec {
  return pairTiles(k, d, true);
}

/**
 * Workgroup grid for `groups` workgroups per run and `runs` runs: (x, y, runs),
 * x·y ≥ groups with x within the per-dimension limit. Kernels index their
 * group as `wid.y · nwg.x + wid.x` and ignore the overshoot.
 *
 * @example
 * ```ts
 * runGrid(100000, 3); // [50000, 2, 3] where at most 65535 workgroups fit a dimension
 * ```
 */
export function runGrid(groups: number, runs: number): [number, number, number] {
  const max = runtime().budgets.workgroupsPerDim;
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y, runs];
}

/**
 * A row list of all n rows, for the list-driven assignment: the count n, 3
 * unused words, then 0..n−1 (u32 [n + 4]).
 *
 * @example
 * ```ts
 * const rows = allRowsList(n); // shared by every run (list stride 0)
 * ```
 */
export function allRowsList(n: number): Tensor {
  const rows = new Uint32Array(n + 4);
  rows[0] = n;
  for (let i = 0; i < n; i++) rows[i + 4] = i;
  return tensor(rows, [n + 4]);
}

/** Sizes of {@link KMeansBuffers}. */
export interface KMeansSizes {
  /** Points, features, clusters. */
  n: number;
  d: number;
  k: number;
  /** Chunks of points in the column sums (one for running sums). */
  chunks: number;
  /** Most Lloyd iterations (the length of each run's inertia history). */
  maxIter: number;
  /** Runs the buffers hold side by side. */
  runs: number;
  /** Also make the list of all rows (list-driven assignments: CPU adapters, pruning). */
  allRows: boolean;
}

/**
 * The GPU buffers of a batch of k-means runs (R = `runs` side by side),
 * reused from batch to batch. Per-point buffers keep each run's n points at
 * a stride of {@link rowStride}.
 */
export class KMeansBuffers {
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly chunks: number;
  readonly maxIter: number;
  /** Runs the buffers hold. */
  readonly runs: number;
  /** Per-run stride of the per-point buffers: n rounded up to a multiple of 4 (vec4 label loads). */
  readonly rowStride: number;
  /** [R, 8] run states (layout `KMEANS_STATE`). */
  readonly state: Tensor;
  /** [R, k, d] centres. */
  readonly centres: Tensor;
  /** [R, rowStride] i32 cluster of every point (padded with −1). */
  readonly labels: Tensor;
  /** [R, rowStride] squared distance of every point to its centre. */
  readonly minDistance: Tensor;
  /** [R, rowStride] u32 1 where the last assignment changed the point's label. */
  readonly changed: Tensor;
  /** [R, chunks, k, d + 1] per-chunk column sums of every cluster, column d the point count. */
  readonly partialSums: Tensor;
  /** [R, k·d] squared change of every centre element in the last update. */
  readonly squaredShift: Tensor;
  /** [R, maxIter] inertia of every iteration. */
  readonly inertiaHistory: Tensor;
  /** [rowStride + 4] every row (count n first), for list-driven assignments; or null. */
  readonly allRows: Tensor | null;
  /** Running sums: [R, rowStride] i32 cluster whose sums hold every point (−1: none). */
  readonly heldLabels: Tensor;
  /** Running sums: [R, 2·rowStride + 4] u32 points that changed cluster (count, 3 unused, (point, old cluster) pairs). */
  readonly changeList: Tensor;
  /** Running sums: [R, k, d + 1] Kahan compensation terms of the sums. */
  readonly sumsLow: Tensor;
  /** Pruning: [R, rowStride] (upper, lower) distance bounds of every point. */
  readonly bounds: Tensor;
  /** Pruning: [R, rowStride + 4] u32 points to rescan (count, 3 unused, rows). */
  readonly candidates: Tensor;
  /** Pruning: [R, k + 3] distance each centre moved, then the largest, second largest and the index of the largest. */
  readonly centreShift: Tensor;
  readonly #owned: Tensor[] = [];

  constructor(op: string, sizes: KMeansSizes) {
    const { n, d, k, chunks, maxIter, runs: R } = sizes;
    const rowStride = Math.ceil(n / 4) * 4;
    this.n = n;
    this.d = d;
    this.k = k;
    this.chunks = chunks;
    this.maxIter = maxIter;
    this.runs = R;
    this.rowStride = rowStride;
    // Everything made is owned, and freed at once if a later allocation fails.
    const made = this.#owned;
    const keepMade = (t: Tensor): Tensor => (made.push(t), t);
    const make = (shape: number[], dtype: "f32" | "i32" | "u32") =>
      keepMade(empty(shape, dtype, op));
    try {
      this.state = make([R * KMEANS_STATE_SIZE], "f32");
      this.centres = make([R, k, d], "f32");
      this.labels = make([R * rowStride], "i32");
      this.minDistance = make([R * rowStride], "f32");
      this.changed = make([R * rowStride], "u32");
      this.partialSums = make([R * chunks * k * (d + 1)], "f32");
      this.allRows = sizes.allRows ? keepMade(allRowsList(n)) : null;
      this.heldLabels = make([R * rowStride], "i32");
      this.changeList = make([R * (2 * rowStride + 4)], "u32");
      this.sumsLow = make([R * k * (d + 1)], "f32");
      this.bounds = make([R * rowStride * 2], "f32");
      this.candidates = make([R * (rowStride + 4)], "u32");
      this.centreShift = make([R * (k + 3)], "f32");
      this.squaredShift = make([R * k * d], "f32");
      this.inertiaHistory = make([R * maxIter], "f32");
    } catch (e) {
      for (const t of made) t.dispose();
      throw e;
    }
  }

  /** Frees every buffer. */
  dispose(): void {
    for (const t of this.#owned) t.dispose();
  }
}

/** Options of {@link resetRuns}. */
export interface ResetRunsOptions {
  /** [d] column means and variances of x (the tolerance's scale, and the non-finite check). */
  mean: Tensor;
  variance: Tensor;
  /** Relative tolerance on the centre shift. */
  tol: number;
  /** Runs to start (the first `runs` of the buffers). */
  runs: number;
  /** Start the pruning's candidate lists empty. */
  prune: boolean;
  /** Start the running sums empty (no point held anywhere, no compensation). */
  runningSums: boolean;
}

/**
 * Starts a batch of runs: fresh states (with the absolute tolerance and the
 * non-finite flag), every label −1, and empty candidate lists and running
 * sums where those are used. The centres are the seeding's.
 */
export function resetRuns(op: string, b: KMeansBuffers, options: ResetRunsOptions): void {
  launchKernel(
    op,
    resetKernel({}),
    { MEAN: options.mean, VAR: options.variance, STATE: b.state },
    { d: b.d, tol: options.tol, runs: options.runs },
    1,
  );
  fillInPlace(b.labels, -1);
  if (options.prune) fillInPlace(b.candidates, 0);
  if (options.runningSums) {
    fillInPlace(b.heldLabels, -1);
    fillInPlace(b.sumsLow, 0);
  }
}

/** What {@link assignNearest} reads and writes. */
export interface AssignNearestArgs {
  /** Kernel layout (`directAssignSpec` or the pairwise core's tiles). */
  layout: AssignSpec;
  /** [n, d] points. */
  x: Tensor;
  /** [R, k, d] (or [k, d] for one run) centres. */
  centres: Tensor;
  /** [R, 8] run states, read when `gate` is on. */
  state: Tensor;
  /** [R, rowStride] outputs: i32 labels (read too, for `changed`), squared distances, u32 changed flags. */
  labels: Tensor;
  minDistance: Tensor;
  changed: Tensor;
  /** Runs, and the per-run stride of the per-point buffers (≥ n). */
  runs: number;
  rowStride: number;
  /** Skip runs whose state says done. */
  gate: boolean;
  /**
   * List-driven layouts: the rows to scan (count first; `listStride` words
   * between runs' lists, 0 for one list shared by every run) and the
   * [R, rowStride] (upper, lower) bounds the scan refreshes.
   */
  rows?: { list: Tensor; listStride: number; bounds: Tensor };
}

/**
 * Assignment step of every run: each point's nearest centre (lowest index on
 * ties), its squared distance, and whether its label changed.
 *
 * @example
 * ```ts
 * assignNearest("KMeans.predict", {
 *   layout, x, centres, state, labels, minDistance, changed,
 *   runs: 1, rowStride: n, gate: false,
 * });
 * ```
 */
export function assignNearest(op: string, args: AssignNearestArgs): void {
  const { layout, x, centres, runs, rowStride } = args;
  const [n, d] = x.shape;
  const k = centres.shape[centres.rank - 2];
  if (layout.list && !args.rows) {
    throw new Error(`${op}: the list-driven assignment needs a row list`);
  }
  // The staged kernel is the pairwise core, which names its operands A and B.
  const operands: Record<string, Tensor> = layout.stage
    ? { A: x, B: centres }
    : { X: x, C: centres };
  const outputs: Record<string, Tensor> = {
    LABELS: args.labels,
    MIN_DIST: args.minDistance,
    CHANGED: args.changed,
  };
  const uniforms = { n, k, d, gate: args.gate ? 1 : 0, row_stride: rowStride };
  const list = layout.list ? args.rows! : null;
  if (list) {
    // The row-list variant also reads the list and stores the rows' bounds.
    operands.LIST = list.list;
    outputs.BOUNDS = list.bounds;
  }
  launchKernel(
    op,
    assignKernel(layout),
    { ...operands, STATE: args.state, ...outputs },
    list ? { ...uniforms, list_stride: list.listStride } : uniforms,
    runGrid(Math.ceil(n / assignRowsPerGroup(layout)), runs),
  );
}

/** Options of {@link assignRuns}. */
export interface AssignRunsOptions {
  layout: AssignSpec;
  /** Runs to assign. */
  runs: number;
  /** Scan every row, or (list-driven layouts) only each run's pruning candidates. */
  rows: "all" | "candidates";
  /** Skip runs that are done (off for the closing assignment). */
  gate: boolean;
}

/** {@link assignNearest} over the buffers of a fit. */
export function assignRuns(
  op: string,
  b: KMeansBuffers,
  x: Tensor,
  options: AssignRunsOptions,
): void {
  const list = options.rows === "candidates"
    ? { list: b.candidates, listStride: b.rowStride + 4, bounds: b.bounds }
    : b.allRows
    ? { list: b.allRows, listStride: 0, bounds: b.bounds }
    : undefined;
  assignNearest(op, {
    layout: options.layout,
    x,
    centres: b.centres,
    state: b.state,
    labels: b.labels,
    minDistance: b.minDistance,
    changed: b.changed,
    runs: options.runs,
    rowStride: b.rowStride,
    gate: options.gate,
    rows: list,
  });
}

/**
 * Hamerly's bounds test for every point of every run: moves the bounds by
 * the last centre movements and lists the points whose label may change in
 * `b.candidates` (the others keep their label, with `changed` cleared).
 */
export function pruneCandidates(op: string, b: KMeansBuffers, runs: number): void {
  launchKernel(
    op,
    pruneKernel({}),
    {
      STATE: b.state,
      CENTRE_SHIFT: b.centreShift,
      LABELS: b.labels,
      CHANGED: b.changed,
      BOUNDS: b.bounds,
      CANDIDATES: b.candidates,
    },
    { n: b.n, k: b.k, d: b.d, gate: 1, row_stride: b.rowStride },
    runGrid(Math.ceil(b.n / 64), runs),
  );
}

/** Clusters per accumulator block of the column sums: k split into equal blocks of ≤ 16. */
function sumsBlock(k: number): number {
  return Math.ceil(k / Math.ceil(k / 16));
}

/** Uniform run map of the column sums: the active runs' indices. */
function runMap(active: readonly number[]): { n_active: number; runs: number[] } {
  return { n_active: active.length, runs: [...active] };
}

/**
 * Column sums and counts of every cluster of the `active` runs, adding every
 * point afresh, per chunk of points, into `b.partialSums`.
 */
export function sumClusters(
  op: string,
  b: KMeansBuffers,
  x: Tensor,
  active: readonly number[],
): void {
  const { n, k, d, chunks } = b;
  const tj = sumsBlock(k);
  // Runs per thread: each X load serves g runs, at g·tj accumulators (≤ 80
  // stay cheap on lavapipe); cost ≈ groups · (g + 2) in loads.
  let g = 1;
  for (const cand of [2, 4, 8]) {
    if (cand * tj > 80 || cand > 2 * active.length) continue;
    const cost = (h: number) => Math.ceil(active.length / h) * (h + 2);
    if (cost(cand) < cost(g)) g = cand;
  }
  launchKernel(
    op,
    sumsKernel({ tj, runsPerThread: g }),
    { X: x, LABELS: b.labels, STATE: b.state, PART: b.partialSums },
    {
      n,
      k,
      d,
      row_stride: b.rowStride,
      // A multiple of 4: the kernel reads labels four at a time.
      chunk: Math.ceil(n / chunks / 4) * 4,
      chunks,
      gate: 1,
      ...runMap(active),
    },
    [Math.ceil((d + 1) / KSUMS_WG), chunks, Math.ceil(active.length / g)],
  );
}

/**
 * Running sums, step 1: lists (in order) the points whose label differs
 * from the cluster the sums hold them in, and records the new clusters.
 */
export function listChangedPoints(op: string, b: KMeansBuffers, runs: number): void {
  launchKernel(
    op,
    changeListKernel({}),
    { LABELS: b.labels, STATE: b.state, HELD: b.heldLabels, CHANGES: b.changeList },
    { n: b.n, row_stride: b.rowStride, gate: 1 },
    [1, 1, runs],
  );
}

/**
 * Running sums, step 2: moves the listed points of the `active` runs between
 * their clusters' sums (one chunk, Kahan-compensated).
 */
export function moveChangedPoints(
  op: string,
  b: KMeansBuffers,
  x: Tensor,
  active: readonly number[],
): void {
  const { n, k, d } = b;
  launchKernel(
    op,
    runningSumsKernel({ tj: sumsBlock(k) }),
    {
      X: x,
      LABELS: b.labels,
      CHANGES: b.changeList,
      STATE: b.state,
      PART: b.partialSums,
      PART_LO: b.sumsLow,
    },
    { n, k, d, row_stride: b.rowStride, gate: 1, ...runMap(active) },
    [Math.ceil((d + 1) / KSUMS_WG), 1, active.length],
  );
}

/** Options of {@link relocateEmptyClusters}. */
export interface RelocateOptions {
  runs: number;
  /** The distances are stale (pruned assignment): recompute them first. */
  recompute: boolean;
  /** Recompute with the vec4 scan's arithmetic. */
  vec4: boolean;
  /** The sums are running sums (move relocated points in `heldLabels` too). */
  runningSums: boolean;
}

/** Gives every empty cluster of every run the farthest remaining point (scikit-learn's rule). */
export function relocateEmptyClusters(
  op: string,
  b: KMeansBuffers,
  x: Tensor,
  options: RelocateOptions,
): void {
  const { recompute, runningSums } = options;
  launchKernel(
    op,
    relocateKernel({ recompute, vec4: recompute && options.vec4, runningSums }),
    {
      X: x,
      LABELS: b.labels,
      STATE: b.state,
      ...(recompute ? { C: b.centres } : {}),
      MIN_DIST: b.minDistance,
      PART: b.partialSums,
      ...(runningSums ? { HELD: b.heldLabels, PART_LO: b.sumsLow } : {}),
    },
    { n: b.n, k: b.k, d: b.d, chunks: b.chunks, gate: 1, row_stride: b.rowStride },
    [1, 1, options.runs],
  );
}

/** New centres of every run from its sums (in place), and the squared change of each element. */
export function updateCentres(
  op: string,
  b: KMeansBuffers,
  options: { runs: number; runningSums: boolean },
): void {
  const kd = b.k * b.d;
  launchKernel(
    op,
    updateKernel({ runningSums: options.runningSums }),
    {
      PART: b.partialSums,
      STATE: b.state,
      ...(options.runningSums ? { PART_LO: b.sumsLow } : {}),
      C: b.centres,
      SHIFT_SQ: b.squaredShift,
    },
    { kd, d: b.d, chunks: b.chunks, gate: 1 },
    runGrid(Math.ceil(kd / 256), options.runs),
  );
}

/**
 * Pruning: how far every centre moved in the last update (and the two
 * largest moves), for the next bounds test; empties the candidate lists.
 */
export function measureCentreShift(
  op: string,
  b: KMeansBuffers,
  options: { runs: number; vec4: boolean },
): void {
  launchKernel(
    op,
    centreShiftKernel({ vec4: options.vec4 }),
    {
      SHIFT_SQ: b.squaredShift,
      STATE: b.state,
      CENTRE_SHIFT: b.centreShift,
      CANDIDATES: b.candidates,
    },
    { k: b.k, d: b.d, gate: 1, row_stride: b.rowStride },
    [1, 1, options.runs],
  );
}

/**
 * End of an iteration of every run: inertia, changed labels and centre shift
 * into the state, the inertia into the history, and scikit-learn's stopping
 * rules. With `final` (after the closing assignment) only the inertia.
 */
export function recordRunStats(
  op: string,
  b: KMeansBuffers,
  options: { runs: number; final: boolean },
): void {
  launchKernel(
    op,
    statsKernel({}),
    {
      MIN_DIST: b.minDistance,
      CHANGED: b.changed,
      SHIFT_SQ: b.squaredShift,
      STATE: b.state,
      HISTORY: b.inertiaHistory,
    },
    {
      n: b.n,
      kd: b.k * b.d,
      max_iter: b.maxIter,
      final_pass: options.final ? 1 : 0,
      row_stride: b.rowStride,
    },
    [1, 1, options.runs],
  );
}

/**
 * The nearest of the centres [k, d] for every row of x [n, d], as a new i32
 * [n] tensor (lowest index on ties): one ungated assignment with its scratch
 * buffers.
 *
 * @example
 * ```ts
 * const labels = nearestCentre("KMeans.predict", x, centres, layout); // i32 [n]
 * ```
 */
export function nearestCentre(
  op: string,
  x: Tensor,
  centres: Tensor,
  layout: AssignSpec,
): Tensor {
  const n = x.shape[0];
  const labels = empty([n], "i32", op);
  const minDistance = empty([n], "f32", op);
  const changed = empty([n], "u32", op);
  const state = empty([KMEANS_STATE_SIZE], "f32", op);
  const list = layout.list ? allRowsList(n) : null;
  const bounds = layout.list ? empty([2 * n], "f32", op) : null;
  assignNearest(op, {
    layout,
    x,
    centres,
    state,
    labels,
    minDistance,
    changed,
    runs: 1,
    rowStride: n,
    gate: false,
    rows: list ? { list, listStride: 0, bounds: bounds! } : undefined,
  });
  for (const t of [minDistance, changed, state, list, bounds]) t?.dispose();
  return labels;
}
