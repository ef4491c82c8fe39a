/**
 * k-means on the GPU (Lloyd's algorithm with greedy k-means++ seeding), in
 * the manner of scikit-learn's `KMeans`
 * (https://scikit-learn.org/stable/modules/generated/sklearn.cluster.KMeans.html).
 *
 * Everything runs in GPU buffers; the host only records work and reads back
 * the 32-byte state of each run every few iterations (see `shaders/kmeans.ts`):
 *
 * - **Restarts side by side**: the `nInit` runs share every dispatch — each
 *   kernel takes the run from its workgroup z and works on that run's
 *   centres, labels and state — so ten restarts cost ten times the
 *   arithmetic of one but not ten times the dispatches and readbacks. (Runs
 *   are split into batches only when their buffers would outgrow a storage
 *   binding.)
 * - **Seeding** (`init: "k-means++"`): scikit-learn's greedy k-means++ — each
 *   new centre is the best of `2 + ⌊ln k⌋` candidates drawn by D² sampling.
 *   The random numbers come from a seeded host generator, run after run, and
 *   are uploaded once; the D² sampling itself (block sums over the distances,
 *   a search of the running sum, candidate potentials, the arg-min) runs on
 *   the GPU, so seeding needs no readback at all (4 dispatches per centre for
 *   all runs).
 * - **Lloyd iterations** (5 dispatches on GPUs): a fused nearest-centre
 *   kernel, per-cluster column sums and counts without atomics (hence
 *   bit-reproducible; several runs per thread share each load of x), empty
 *   clusters relocated to the farthest points as scikit-learn does, then the
 *   new centres, the centre shift and the inertia. Convergence follows
 *   scikit-learn: stop when no label changes, or when Σ‖c_new − c_old‖² ≤
 *   tol · mean(var(x, axis=0)), or after `maxIter` iterations. Iterations
 *   are recorded in blocks sized to the measured GPU time, and the state
 *   read after one block is awaited only once the next block is submitted;
 *   iterations recorded for a run that is already done return at once on
 *   the GPU.
 * - **CPU adapters** (lavapipe, SwiftShader), where every load is costly:
 *   the assignment is register-tiled (4 points × up to 10 centres per
 *   thread) and pruned with Hamerly's bounds (an upper bound to the own
 *   centre, a lower bound to the others, moved by the centre shifts), so
 *   only points whose label may change are scanned — same labels, centres
 *   and iterations as the full scan, but the per-iteration inertia is then
 *   only exact at the end, so a fit asking for the inertia history scans
 *   every point. The column sums are running sums: after the first
 *   iteration only the points that changed cluster (an ordered list) move
 *   their x between clusters, into Kahan-compensated sums.
 *
 * Differences from scikit-learn: float32 arithmetic; distances are computed
 * as Σ (x − c)² rather than with the ‖x‖² − 2x·c + ‖c‖² expansion; the random
 * stream is latent's own (`lt.data.Rng`, Philox), so the same seed gives
 * different (but reproducible) centres than NumPy would.
 *
 * @module
 */
import { pairTiles, pairwiseKernel, TI } from "../../shaders/distance.ts";
import { runtime } from "../gpu/runtime.ts";
import {
  adapterKind,
  kmeansChunkPoints,
  kmeansMaxRunsPerBatch,
  kmeansPrune,
} from "../ops/tuning.ts";
import * as K from "../../shaders/kmeans.ts";
import { fillInPlace, tensor } from "../ops/creation.ts";
import { launchKernel } from "../ops/kernel_call.ts";
import { empty, fmtShape, Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";
import { Rng } from "../data/prng.ts";
import { Dataset } from "../data/dataset.ts";
import { firstNonFiniteRow } from "../ops/finite.ts";

// ------------------------------------------------------------ shared helpers

/** How a segmented column sum splits its points and features. */
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
 * Chunking for {@link clusterSums}: at most 64 chunks of ≥ 256 points.
 *
 * @example
 * ```ts
 * sumsPlan(70000, 10); // { nChunks: 64, chunk: 1094, fc: 16, dBlocks: 1 }
 * ```
 */
export function sumsPlan(n: number, d: number): SumsPlan {
  const fc = Math.min(64, nextPow2(d));
  // 256 / fc lanes share a chunk: enough chunks to keep each lane's walk
  // within the loop budget (src/gpu/budget.ts).
  const most = Math.max(1, Math.floor(runtime().budgets.loopIterations * 256 / fc));
  const nChunks = Math.max(1, Math.min(64, Math.ceil(n / 256)), Math.ceil(n / most));
  return { nChunks, chunk: Math.ceil(n / nChunks), fc, dBlocks: Math.ceil(d / fc) };
}

/**
 * Per-cluster column sums of x [n, d] on the GPU, without atomics:
 * `out[j, f] = scale · Σ_i w(i, j) · value(i, j, f)` and, if `weights` is
 * given, `weights[j] = Σ_i w(i, j)`. `aux` holds, in order, the labels (i32
 * [n]) or dense weights ([n, k]), the reference `M` for `sqdev`/`dev`, and the
 * k-means state when `gated`. Internal building block of k-means, the soft
 * assignment's centre gradient, the target distribution and PCA.
 *
 * @example
 * ```ts
 * // Per-cluster sums and counts of x under integer labels (the k-means update).
 * clusterSums("update", { weight: "labels", value: "x" }, x, k, [labels], sums, 1, counts);
 * ```
 */
export function clusterSums(
  op: string,
  spec: { weight: K.SumWeight; value: K.SumValue; gated?: boolean },
  x: Tensor,
  k: number,
  aux: Tensor[],
  out: Tensor,
  scale = 1,
  weights?: Tensor,
  gate = 0,
): void {
  const [n, d] = x.shape;
  const plan = sumsPlan(n, d);
  const part = empty([plan.nChunks * k * d], "f32", op);
  const wpart = empty([plan.nChunks * k], "f32", op);
  const kernel = K.clusterSumsKernel({ ...spec, fc: plan.fc, gated: spec.gated ?? false });
  // `aux` fills the inputs after X in the order the kernel declares them.
  const extra = kernel.inputs.slice(1);
  if (aux.length !== extra.length) {
    throw new Error(
      `${op}: cluster sums ${spec.weight}/${spec.value} take ${extra.length} auxiliary tensors (${
        extra.map(([name]) => name).join(", ")
      }), got ${aux.length}`,
    );
  }
  launchKernel(
    op,
    kernel,
    {
      X: x,
      ...Object.fromEntries(extra.map(([name], i) => [name, aux[i]])),
      PART: part,
      WPART: wpart,
    },
    { n, d, k, chunk: plan.chunk, gate },
    [plan.nChunks, k, plan.dBlocks],
  );
  sumChunks(op, part, out, k * d, plan.nChunks, scale);
  if (weights) sumChunks(op, wpart, weights, k, plan.nChunks, 1);
  part.dispose();
  wpart.dispose();
}

function sumChunks(
  op: string,
  part: Tensor,
  out: Tensor,
  e: number,
  chunks: number,
  scale: number,
): void {
  launchKernel(
    op,
    K.chunkSumKernel({}),
    { PART: part, OUT: out },
    { e, chunks, scale },
    Math.ceil(e / 256),
  );
}

/**
 * Column means of x [n, d] as a new [d] tensor (GPU, no readback).
 *
 * @example
 * ```ts
 * const mu = columnMeans("pca", x); // [d]
 * ```
 */
export function columnMeans(op: string, x: Tensor): Tensor {
  const mean = empty([x.shape[1]], "f32", op);
  clusterSums(op, { weight: "ones", value: "x" }, x, 1, [], mean, 1 / x.shape[0]);
  return mean;
}

/**
 * {@link pairTiles} for the current adapter: operands staged in workgroup
 * memory on GPUs, read directly on CPU adapters (lavapipe, SwiftShader).
 *
 * @example
 * ```ts
 * const kernel = assignKernel(pairSpec(k, d));
 * ```
 */
export function pairSpec(k: number, d: number): { tj: number; tf: number; stage: boolean } {
  return pairTiles(k, d, adapterKind() === "gpu");
}

/**
 * Throws unless `x` is a non-empty f32 matrix, naming the caller and argument.
 *
 * @example
 * ```ts
 * checkMatrix("KMeans.fit", "x", x); // "KMeans.fit: expected x to be a non-empty f32 tensor [n, d], got [6] f32"
 * ```
 */
export function checkMatrix(where: string, name: string, x: Tensor): void {
  if (!(x instanceof Tensor)) {
    throw new TypeError(
      `${where}: expected ${name} to be an f32 tensor [n, d], got ${
        x === null ? "null" : (x as object)?.constructor?.name ?? typeof x
      }`,
    );
  }
  if (x.dtype !== "f32" || x.rank !== 2 || x.shape[0] < 1 || x.shape[1] < 1) {
    throw new Error(
      `${where}: expected ${name} to be a non-empty f32 tensor [n, d], got ${
        fmtShape(x.shape)
      } ${x.dtype}`,
    );
  }
}

/** Largest float32 below 1: keeps u · Σ D² strictly below the total after rounding. */
const BELOW_ONE = 1 - 2 ** -24;

// -------------------------------------------------------------------- k-means

/** Options of {@link KMeans}; defaults follow scikit-learn where the brief is silent. */
export interface KMeansOptions {
  /** Number of clusters (≥ 1). */
  k: number;
  /** Runs with different seeds; the lowest inertia wins (default 10; 1 with explicit centres). */
  nInit?: number;
  /** Lloyd iterations per run (default 300). */
  maxIter?: number;
  /** Relative tolerance on the centre shift, times the mean feature variance (default 1e-4). */
  tol?: number;
  /** Seed of the host random stream (default 0): same seed, same adapter → same result. */
  seed?: number;
  /** `"k-means++"` (default), `"random"` (k distinct points), or explicit centres (k × d values). */
  init?: "k-means++" | "random" | Float32Array;
  /** Candidates per k-means++ step (default 2 + ⌊ln k⌋, scikit-learn's; 1 = plain k-means++). */
  localTrials?: number;
}

/** Options of {@link KMeans.fit}. */
export interface KMeansFitOptions {
  /** Also return the inertia of every iteration of the best run. */
  history?: boolean;
}

/** What {@link KMeans.fit} returns (also kept on the instance). */
export interface KMeansResult {
  /** Cluster of every sample, 0..k−1. */
  labels: Int32Array;
  /** k × d centres, row-major. */
  centers: Float32Array;
  /** Σ squared distance of the samples to their centre. */
  inertia: number;
  /** Lloyd iterations of the best run. */
  nIter: number;
  /** With `history`: inertia at each iteration's assignment step (non-increasing). */
  inertiaHistory?: number[];
}

/**
 * The assignment kernel's specialisation for the current adapter: the shared
 * staged pairwise core on GPUs, a direct register tile on CPU adapters.
 *
 * @example
 * ```ts
 * const spec = assignSpec(10, 784); // lavapipe: { tj: 10, stage: false, rows: 4, vec4: true, … }
 * ```
 */
export function assignSpec(k: number, d: number): K.AssignSpec {
  return adapterKind() === "gpu" ? pairTiles(k, d, true) : K.directAssignSpec(k, d);
}

/** A list of all n rows for list-driven assignment kernels: count, 3 unused words, 0..n−1. */
function allRows(n: number): Tensor {
  const rows = new Uint32Array(n + 4);
  rows[0] = n;
  for (let i = 0; i < n; i++) rows[i + 4] = i;
  return tensor(rows, [n + 4]);
}

/**
 * Records one assignment of every run: the staged kernel over all rows, or a
 * list-driven one over `rows` (with `stride` words between runs' lists, 0
 * for one list shared by all runs), which also refreshes `bounds`.
 */
function assignLaunch(
  op: string,
  spec: K.AssignSpec,
  x: Tensor,
  c: Tensor,
  state: Tensor,
  out: { labels: Tensor; mind: Tensor; changed: Tensor; bounds: Tensor | null },
  rows: Tensor | null,
  stride: number,
  runs: number,
  u: { n: number; k: number; d: number; gate: number; np: number },
): void {
  const grid = runGrid(Math.ceil(u.n / K.assignRowsPerGroup(spec)), runs);
  const { labels, mind, changed } = out;
  // The staged kernel is the pairwise core, which names its operands A and B.
  const io: Record<string, Tensor> = spec.stage ? { A: x, B: c } : { X: x, C: c };
  const outs: Record<string, Tensor> = { LABELS: labels, MIND: mind, CHANGED: changed };
  if (spec.list) {
    // The row-list variant also reads the list and stores the rows' bounds.
    io.LIST = rows!;
    outs.BOUNDS = out.bounds!;
  }
  launchKernel(
    op,
    K.assignKernel(spec),
    { ...io, STATE: state, ...outs },
    spec.list ? { ...u, ls: stride } : u,
    grid,
  );
}

/**
 * Workgroup grid for `groups` workgroups per run and `runs` runs: (x, y, runs),
 * x·y ≥ groups with x within the per-dimension limit. Kernels index their
 * group as `wid.y · nwg.x + wid.x` and ignore the overshoot.
 */
function runGrid(groups: number, runs: number): [number, number, number] {
  const max = runtime().budgets.workgroupsPerDim;
  const y = Math.ceil(groups / max);
  return [Math.ceil(groups / y), y, runs];
}

/**
 * Chunks of points in the k-means column sums (a thread walks one chunk):
 * about 1024 points per chunk on GPUs; one on CPU adapters (the columns
 * already give enough threads, and one chunk allows running sums).
 */
function kmeansChunks(n: number, k: number): number {
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
function runningSumsFit(n: number, k: number): boolean {
  return n * Math.ceil(k / 16) <= runtime().budgets.loopIterations;
}

/** GPU time one block of recorded iterations aims at, between state reads. */
const BLOCK_MS = 30;
/** Most iterations recorded per block. */
const MAX_BLOCK = 16;

/** Largest per-run GPU buffer of a fit, in bytes, for sizing batches of runs. */
function runBytes(n: number, d: number, k: number, trials: number, chunks: number): number {
  return 4 * Math.max(2 * n + 12, trials * n, chunks * k * (d + 1), k * d);
}

/**
 * k-means clustering on the GPU.
 *
 * The `nInit` restarts run together: every kernel is batched over runs, so
 * one dispatch advances all of them and the host reads one small state block
 * for all runs every few iterations (while the GPU already works on the next
 * iterations).
 *
 * @example
 * ```ts
 * const x = lt.tensor(points, [n, 2]);
 * const km = new KMeans({ k: 3, seed: 1 });
 * const { labels, centers, inertia } = await km.fit(x);
 * const newLabels = await km.predict(lt.tensor(more, [m, 2]));
 * ```
 */
export class KMeans {
  readonly k: number;
  readonly nInit: number;
  readonly maxIter: number;
  readonly tol: number;
  readonly seed: number;
  readonly init: "k-means++" | "random" | Float32Array;
  readonly localTrials: number;
  /** The fitted centres on the GPU ([k, d]), or null before {@link fit}. */
  centers: Tensor | null = null;
  /** The last fit's result, or null. */
  result: KMeansResult | null = null;

  constructor(options: KMeansOptions) {
    const where = "KMeans";
    const { k, tol = 1e-4, maxIter = 300, seed = 0, init = "k-means++" } = options;
    if (!Number.isInteger(k) || k < 1) {
      throw new Error(`${where}: expected k to be a positive integer, got ${k}`);
    }
    const nInit = init instanceof Float32Array ? 1 : options.nInit ?? 10;
    if (!Number.isInteger(nInit) || nInit < 1) {
      throw new Error(`${where}: expected nInit to be a positive integer, got ${nInit}`);
    }
    if (!Number.isInteger(maxIter) || maxIter < 1) {
      throw new Error(`${where}: expected maxIter to be a positive integer, got ${maxIter}`);
    }
    if (!(tol >= 0 && Number.isFinite(tol))) {
      throw new Error(`${where}: expected tol >= 0, got ${tol}`);
    }
    if (!Number.isSafeInteger(seed) || seed < 0) {
      throw new Error(`${where}: expected a non-negative integer seed, got ${seed}`);
    }
    if (!(init instanceof Float32Array) && init !== "k-means++" && init !== "random") {
      throw new Error(
        `${where}: expected init "k-means++", "random" or a Float32Array of centres, got ${init}`,
      );
    }
    const trials = options.localTrials ?? 2 + Math.floor(Math.log(k));
    if (!Number.isInteger(trials) || trials < 1 || trials > 64) {
      throw new Error(`${where}: expected localTrials in 1..64, got ${trials}`);
    }
    this.k = k;
    this.nInit = nInit;
    this.maxIter = maxIter;
    this.tol = tol;
    this.seed = seed;
    this.init = init;
    this.localTrials = trials;
  }

  /**
   * Clusters the rows of x ([n, d] f32, on the GPU), or the samples of a
   * dataset as flat rows (gathered once as f32, so they must fit one
   * storage binding).
   *
   * Throws before any GPU work for k > n, a malformed x, or an x too large
   * for the adapter's storage bindings, and at the first state readback if x
   * holds NaN or ±Inf, naming the first such sample.
   *
   * @example
   * ```ts
   * const { labels, inertiaHistory } = await new KMeans({ k: 4 }).fit(x, { history: true });
   * ```
   */
  async fit(x: Tensor | Dataset, options: KMeansFitOptions = {}): Promise<KMeansResult> {
    const op = "KMeans.fit";
    if (x instanceof Dataset) {
      // Samples of any shape cluster as flat rows (scaled u8 data as f32).
      const all = x.toTensor();
      try {
        const rows = all.view([x.n, x.features], op);
        try {
          return await this.fit(rows, options);
        } finally {
          rows.dispose();
        }
      } finally {
        all.dispose();
      }
    }
    checkMatrix(op, "x", x);
    const [n, d] = x.shape;
    const k = this.k;
    if (n < k) {
      throw new Error(
        `${op}: expected at least k=${k} samples, got n=${n} (x is ${fmtShape(x.shape)})`,
      );
    }
    this.#checkInit(op, d);
    const rt = runtime();
    const limit = rt.limits.maxStorageBufferBindingSize;
    if (x.byteLength > limit) {
      throw new Error(
        `${op}: x ${fmtShape(x.shape)} f32 takes ${x.byteLength} bytes, more than this adapter's ` +
          `maxStorageBufferBindingSize (${limit} bytes); use fewer samples or a GPU with larger bindings`,
      );
    }
    // The per-run statistics and the empty-cluster search walk every point
    // with one workgroup of 256 threads per run.
    const budget = rt.budgets.loopIterations;
    if (Math.ceil(n / 256) > budget) {
      throw new RangeError(
        `${op}: ${n} samples need ${Math.ceil(n / 256)} loop iterations per invocation; this ` +
          `driver runs at most ${budget} (at most ${256 * budget} samples; Mesa >= 25 has no cap)`,
      );
    }
    // Runs per batch: all of them unless a per-run workspace would outgrow a binding.
    const chunks = kmeansChunks(n, k);
    const perRun = runBytes(n, d, k, this.localTrials, chunks);
    if (perRun > limit) {
      throw new Error(
        `${op}: one run needs ${perRun}-byte buffers for x ${fmtShape(x.shape)}, more than this ` +
          `adapter's maxStorageBufferBindingSize (${limit} bytes); use fewer samples`,
      );
    }
    const batch = Math.max(
      1,
      Math.min(
        this.nInit,
        Math.floor(limit / perRun),
        K.KSUMS_MAX_RUNS,
        kmeansMaxRunsPerBatch(),
      ),
    );
    // Per-run stride of labels, distances and flags: a multiple of 4 (vec4 label loads).
    const np = Math.ceil(n / 4) * 4;
    const owned: Tensor[] = [];
    const own = <T extends Tensor>(t: T): T => (owned.push(t), t);
    try {
      // Column mean and variance: scikit-learn's tolerance scale, and the non-finite check.
      const mean = own(columnMeans(op, x));
      const variance = own(empty([d], "f32", op));
      clusterSums(op, { weight: "ones", value: "sqdev" }, x, 1, [mean], variance, 1 / n);
      const w: Workspace = {
        n,
        np,
        d,
        k,
        chunks,
        mean,
        variance,
        state: own(empty([batch * K.KMEANS_STATE_SIZE], "f32", op)),
        c: own(empty([batch, k, d], "f32", op)),
        labels: own(empty([batch * np], "i32", op)),
        mind: own(empty([batch * np], "f32", op)),
        changed: own(empty([batch * np], "u32", op)),
        part: own(empty([batch * chunks * k * (d + 1)], "f32", op)),
        // Every row, for list-driven assignments that scan all points (CPU adapters:
        // rows from the thread index stall SwiftShader's compiler for minutes).
        all: adapterKind() === "cpu" || kmeansPrune(options.history ?? false)
          ? own(allRows(n))
          : null,
        acc: own(empty([batch * np], "i32", op)),
        chg: own(empty([batch * (2 * np + 4)], "u32", op)),
        partlo: own(empty([batch * k * (d + 1)], "f32", op)),
        bounds: own(empty([batch * np * 2], "f32", op)),
        list: own(empty([batch * (np + 4)], "u32", op)),
        cs: own(empty([batch * (k + 3)], "f32", op)),
        shift: own(empty([batch * k * d], "f32", op)),
        hist: own(empty([batch * this.maxIter], "f32", op)),
      };
      const rng = new Rng(this.seed);
      let best: (KMeansResult & { history?: number[] }) | null = null;
      for (let first = 0; first < this.nInit; first += batch) {
        const runs = Math.min(batch, this.nInit - first);
        const r = await this.#fitRuns(op, x, w, runs, rng, options.history ?? false);
        if (!best || r.inertia < best.inertia) best = r;
      }
      const result: KMeansResult = {
        labels: best!.labels,
        centers: best!.centers,
        inertia: best!.inertia,
        nIter: best!.nIter,
      };
      if (options.history) result.inertiaHistory = best!.history;
      this.centers?.dispose();
      this.centers = keep(tensor(result.centers, [k, d]));
      this.result = result;
      return result;
    } finally {
      for (const t of owned) t.dispose();
    }
  }

  /** Runs `runs` restarts side by side and returns the best of them (first on ties). */
  async #fitRuns(
    op: string,
    x: Tensor,
    w: Workspace,
    runs: number,
    rng: Rng,
    history: boolean,
  ): Promise<KMeansResult & { history?: number[] }> {
    const { n, np, d, k, chunks, state, c, labels, mind, changed, part, shift, hist } = w;
    const { bounds, list, cs, acc, chg, partlo } = w;
    const rt = runtime();
    const kd = k * d;
    launchKernel(
      op,
      K.resetKernel({}),
      { MEAN: w.mean, VAR: w.variance, STATE: state },
      { d, tol: this.tol, runs },
      1,
    );
    fillInPlace(labels, -1);
    this.#initCenters(op, x, c, runs, rng);
    // Hamerly's pruning pays off where each scanned distance is expensive
    // (CPU adapters); its per-iteration inertia is inexact, so not with history.
    const prune = kmeansPrune(history);
    const spec = prune ? K.directAssignSpec(k, d) : assignSpec(k, d);
    const all = w.all;
    const vec4 = spec.vec4 ?? false;
    if (prune) fillInPlace(list, 0);
    // Running sums (CPU adapters, one chunk): after the first iteration only
    // the points that changed cluster change the sums.
    const incremental = adapterKind() === "cpu" && chunks === 1 && runningSumsFit(n, k);
    if (incremental) {
      fillInPlace(acc, -1);
      fillInPlace(partlo, 0);
    }
    const tj = Math.ceil(k / Math.ceil(k / 16));
    const chunk = Math.ceil(n / chunks / 4) * 4;
    // Runs not known to be done (from the last state read): the column sums
    // serve several of them per thread and skip the others.
    let active = Array.from({ length: runs }, (_, r) => r);
    const sumsLaunch = (t: number) => {
      // Runs per thread: each X load serves g runs, at g·tj accumulators (≤ 80
      // stay cheap on lavapipe); cost ≈ groups · (g + 2) in loads.
      let g = 1;
      for (const cand of [2, 4, 8]) {
        if (cand * tj > 80 || cand > 2 * active.length) continue;
        const cost = (h: number) => Math.ceil(active.length / h) * (h + 2);
        if (cost(cand) < cost(g)) g = cand;
      }
      const grid: [number, number, number] = [
        Math.ceil((d + 1) / K.KSUMS_WG),
        chunks,
        Math.ceil(active.length / g),
      ];
      if (incremental) {
        launchKernel(
          op,
          K.changesKernel({}),
          { LABELS: labels, STATE: state, ACC: acc, CH: chg },
          { n, np, gate: 1 },
          [1, 1, runs],
        );
      }
      if (incremental && t > 0) {
        launchKernel(
          op,
          K.deltaKernel({ tj }),
          { X: x, LABELS: labels, CH: chg, STATE: state, PART: part, PARTLO: partlo },
          { n, k, d, np, gate: 1, n_active: active.length, runs: active },
          [Math.ceil((d + 1) / K.KSUMS_WG), 1, active.length],
        );
      } else {
        launchKernel(
          op,
          K.sumsKernel({ tj, g }),
          { X: x, LABELS: labels, STATE: state, PART: part },
          { n, k, d, np, chunk, chunks, gate: 1, n_active: active.length, runs: active },
          grid,
        );
      }
    };
    const outs = { labels, mind, changed, bounds };
    const dims = { n, k, d, np };
    // Per-run convergence state and history; `final` marks the closing E-step.
    const stats = (final: 0 | 1) =>
      launchKernel(
        op,
        K.statsKernel({}),
        { MIND: mind, CHANGED: changed, SHIFT: shift, STATE: state, HIST: hist },
        { n, kd, max_iter: this.maxIter, final_pass: final, np },
        [1, 1, runs],
      );
    const iteration = (t: number) => {
      if (prune) {
        launchKernel(
          op,
          K.pruneKernel({}),
          { STATE: state, CS: cs, LABELS: labels, CHANGED: changed, BOUNDS: bounds, LIST: list },
          { n, k, d, gate: 1, np },
          runGrid(Math.ceil(n / 64), runs),
        );
        assignLaunch(op, spec, x, c, state, outs, list, np + 4, runs, { ...dims, gate: 1 });
      } else assignLaunch(op, spec, x, c, state, outs, all, 0, runs, { ...dims, gate: 1 });
      sumsLaunch(t);
      const relocate = K.relocateKernel({ recompute: prune, vec4: prune && vec4, incremental });
      launchKernel(
        op,
        relocate,
        {
          X: x,
          LABELS: labels,
          STATE: state,
          ...(prune ? { C: c } : {}),
          MIND: mind,
          PART: part,
          ...(incremental ? { ACC: acc, PARTLO: partlo } : {}),
        },
        { n, k, d, chunks, gate: 1, np },
        [1, 1, runs],
      );
      launchKernel(
        op,
        K.updateKernel({ incremental }),
        {
          PART: part,
          STATE: state,
          ...(incremental ? { PARTLO: partlo } : {}),
          C: c,
          SHIFT: shift,
        },
        { kd, d, chunks, gate: 1 },
        runGrid(Math.ceil(kd / 256), runs),
      );
      if (prune) {
        launchKernel(
          op,
          K.centreStatsKernel({ vec4 }),
          { SHIFT: shift, STATE: state, CS: cs, LIST: list },
          { k, d, gate: 1, np },
          [1, 1, runs],
        );
      }
      stats(0);
    };

    // Record iterations in blocks and read the states after each block, but
    // await a read only once the next block is submitted, so the GPU never
    // idles through a readback. Blocks start at 2 and then span about
    // BLOCK_MS of GPU time (measured between reads), so a slow adapter
    // overshoots convergence by a block or two at most and a fast one pays
    // few readbacks. Iterations recorded after a run is done return at once.
    const S = K.KMEANS_STATE, SZ = K.KMEANS_STATE_SIZE;
    let recorded = 0, block = 2;
    const recordBlock = () => {
      const m = Math.min(block, this.maxIter - recorded);
      for (let t = 0; t < m; t++) iteration(recorded + t);
      recorded += m;
      rt.flush();
    };
    recordBlock();
    let pending = state.toArray(), pendingAt = recorded;
    let lastTime = -1, lastAt = 0;
    for (;;) {
      if (recorded < this.maxIter) recordBlock();
      const st = await pending;
      if (st[S.nonFinite] !== 0) {
        // Found for free by the column statistics; located only on this error path.
        const row = await firstNonFiniteRow(x, d);
        throw new Error(
          `${op}: x sample ${row} holds NaN or ±Inf (the first such sample of ${n}); ` +
            `drop or impute it before clustering`,
        );
      }
      active = active.filter((r) => st[r * SZ + S.done] === 0);
      if (active.length === 0) break;
      const now = performance.now();
      if (lastTime >= 0 && pendingAt > lastAt) {
        const perIter = Math.max(1e-3, (now - lastTime) / (pendingAt - lastAt));
        block = Math.max(1, Math.min(MAX_BLOCK, Math.round(BLOCK_MS / perIter)));
      } else block = Math.min(MAX_BLOCK, block * 2);
      lastTime = now;
      lastAt = pendingAt;
      pending = state.toArray();
      pendingAt = recorded;
    }
    // Labels and inertia consistent with the final centres (scikit-learn's closing E-step).
    assignLaunch(op, spec, x, c, state, outs, all, 0, runs, { ...dims, gate: 0 });
    stats(1);
    const [st, centres, ls, hs] = await Promise.all([
      state.toArray(),
      c.toArray(),
      labels.toArray(),
      history ? hist.toArray() : Promise.resolve(null),
    ]);
    let b = 0;
    for (let r = 1; r < runs; r++) if (st[r * SZ + S.inertia] < st[b * SZ + S.inertia]) b = r;
    const nIter = st[b * SZ + S.iterations];
    return {
      labels: (ls as Int32Array).slice(b * np, b * np + n),
      centers: (centres as Float32Array).slice(b * kd, (b + 1) * kd),
      inertia: st[b * SZ + S.inertia],
      nIter,
      history: hs ? Array.from(hs.subarray(b * this.maxIter, b * this.maxIter + nIter)) : undefined,
    };
  }

  /**
   * The centres the first run of {@link fit} starts from (k-means++ or random
   * seeding with this instance's seed), as a new [k, d] tensor.
   *
   * @example
   * ```ts
   * const seeds = new KMeans({ k: 3, seed: 1 }).initialCenters(x); // [3, d]
   * ```
   */
  initialCenters(x: Tensor): Tensor {
    const op = "KMeans.initialCenters";
    checkMatrix(op, "x", x);
    const [n, d] = x.shape;
    if (n < this.k) {
      throw new Error(
        `${op}: expected at least k=${this.k} samples, got n=${n} (x is ${fmtShape(x.shape)})`,
      );
    }
    this.#checkInit(op, d);
    const c = empty([this.k, d], "f32", op);
    this.#initCenters(op, x, c, 1, new Rng(this.seed));
    return c;
  }

  #checkInit(op: string, d: number): void {
    const k = this.k;
    if (this.init instanceof Float32Array && this.init.length !== k * d) {
      throw new Error(
        `${op}: expected ${k} × ${d} = ${k * d} initial centre values, got ${this.init.length}`,
      );
    }
  }

  /** Initial centres of `runs` runs into c [runs, k, d], drawing from `rng` run after run. */
  #initCenters(op: string, x: Tensor, c: Tensor, runs: number, rng: Rng): void {
    const [n, d] = x.shape;
    const k = this.k;
    if (this.init instanceof Float32Array) {
      const t = tensor(this.init, [k, d]);
      runtime().copy(op, t.binding(op).buffer, 0, c.binding(op).buffer, 0, k * d * 4);
      t.dispose();
      return;
    }
    if (this.init === "random") {
      // Per run, the first k entries of a seeded permutation (a partial Fisher–Yates shuffle).
      const idx = new Uint32Array(runs * k);
      for (let r = 0; r < runs; r++) {
        const perm = new Uint32Array(n);
        for (let i = 0; i < n; i++) perm[i] = i;
        for (let i = 0; i < k; i++) {
          const j = i + Math.floor(rng.uniform() * (n - i));
          [perm[i], perm[j]] = [perm[j], perm[i]];
        }
        idx.set(perm.subarray(0, k), r * k);
      }
      const it = tensor(idx, [runs * k]);
      launchKernel(
        op,
        K.gatherRowsKernel({}),
        { X: x, IDX: it, C: c },
        { kd: runs * k * d, d },
        Math.ceil((runs * k * d) / 256),
      );
      it.dispose();
      return;
    }
    kmeansPlusPlus(op, x, c, k, this.localTrials, runs, rng);
  }

  /**
   * Nearest fitted centre of every row of x ([m, d] f32).
   *
   * @example
   * ```ts
   * const labels = await km.predict(xTest);
   * ```
   */
  async predict(x: Tensor): Promise<Int32Array> {
    const labels = this.predictTensor(x);
    try {
      return (await labels.toArray()) as Int32Array;
    } finally {
      labels.dispose();
    }
  }

  /**
   * Like {@link predict} but leaves the labels on the GPU (an i32 [m] tensor).
   *
   * @example
   * ```ts
   * const labels = km.predictTensor(x); // i32 [m]
   * ```
   */
  predictTensor(x: Tensor): Tensor {
    const op = "KMeans.predict";
    if (!this.centers) throw new Error(`${op}: call fit() first`);
    checkMatrix(op, "x", x);
    const d = this.centers.shape[1];
    if (x.shape[1] !== d) {
      throw new Error(
        `${op}: expected x [*, ${d}] like the training data, got ${fmtShape(x.shape)}`,
      );
    }
    const n = x.shape[0];
    const labels = empty([n], "i32", op);
    const mind = empty([n], "f32", op);
    const changed = empty([n], "u32", op);
    const state = empty([K.KMEANS_STATE_SIZE], "f32", op);
    const spec = assignSpec(this.k, d);
    const all = spec.list ? allRows(n) : null;
    const bounds = spec.list ? empty([2 * n], "f32", op) : null;
    assignLaunch(op, spec, x, this.centers, state, { labels, mind, changed, bounds }, all, 0, 1, {
      n,
      k: this.k,
      d,
      gate: 0,
      np: n,
    });
    for (const t of [mind, changed, state, all, bounds]) t?.dispose();
    return labels;
  }

  /** Frees the fitted centres. */
  dispose(): void {
    this.centers?.dispose();
    this.centers = null;
  }
}

/** GPU buffers of a fit, sized for a batch of runs and reused across batches. */
interface Workspace {
  n: number;
  /** Per-run stride of labels, mind and changed (n rounded up to a multiple of 4). */
  np: number;
  d: number;
  k: number;
  chunks: number;
  mean: Tensor;
  variance: Tensor;
  /** [R, 8] run states. */
  state: Tensor;
  /** [R, k, d] centres. */
  c: Tensor;
  /** [R, np] labels (padded with −1), nearest distances, changed flags. */
  labels: Tensor;
  mind: Tensor;
  changed: Tensor;
  /** [R, chunks, k, d + 1] partial sums and counts. */
  part: Tensor;
  /** [np + 4] list of all rows (count n first), or null where the staged assignment runs. */
  all: Tensor | null;
  /** Running sums: [R, np] cluster each point is summed in, [R, 2np + 4] change list, [R, k, d + 1] compensation terms. */
  acc: Tensor;
  chg: Tensor;
  partlo: Tensor;
  /** Pruning: [R, np] (upper, lower) distance bounds, [R, np + 4] candidate list (count first), [R, k + 3] centre movements. */
  bounds: Tensor;
  list: Tensor;
  cs: Tensor;
  /** [R, k·d] squared centre shifts. */
  shift: Tensor;
  /** [R, maxIter] inertia per iteration. */
  hist: Tensor;
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii 2007; scikit-learn's
 * `_kmeans_plusplus`) of `runs` runs into c [runs, k, d], entirely on the GPU.
 * Each run draws its first centre and then (k − 1)·trials uniforms from the
 * host stream, run after run. Per new centre, for all runs at once: search
 * (D² sampling of `trials` candidates from the running sum of the
 * nearest-centre distances) → candidate distances → block sums → select.
 * Row SEL[r] of run r's candidate matrix holds its current nearest-centre
 * distances, so nothing is copied between steps.
 */
function kmeansPlusPlus(
  op: string,
  x: Tensor,
  c: Tensor,
  k: number,
  trials: number,
  runs: number,
  rng: Rng,
): void {
  const [n, d] = x.shape;
  const blocks = Math.ceil(n / K.PP_BLOCK);
  const per = (k - 1) * trials;
  const firsts = new Uint32Array(runs);
  const draws = new Float32Array(Math.max(1, runs * per));
  for (let r = 0; r < runs; r++) {
    firsts[r] = Math.min(n - 1, Math.floor(rng.uniform() * n));
    for (let i = 0; i < per; i++) draws[r * per + i] = Math.min(rng.uniform(), BELOW_ONE);
  }
  const first = tensor(firsts, [runs]);
  const rand = tensor(draws, [draws.length]);
  const dc = empty([runs * trials * n], "f32", op);
  const bs = empty([runs * trials * blocks], "f32", op);
  const sel = empty([runs], "u32", op);
  const cand = empty([runs * trials], "u32", op);
  const rows = adapterKind() === "gpu" ? 1 : 4;
  const vec4 = d % 4 === 0;
  // Distances to `count` candidates (or, with `first`, to the first centre alone).
  const distances = (count: number, first: number) =>
    launchKernel(
      op,
      K.ppCandDistKernel({ lb: first ? 1 : Math.min(trials, 8), vec4, rows }),
      { X: x, CAND: cand, SEL: sel, DC: dc },
      { n, d, trials, count, first },
      runGrid(Math.ceil(n / (64 * rows)), runs),
    );
  const blockSums = (rows: number) =>
    launchKernel(
      op,
      K.blockSumKernel({}),
      { IN: dc, OUT: bs },
      { n, blocks, row_stride: trials },
      [blocks, rows, runs],
    );
  launchKernel(
    op,
    K.ppFirstKernel({}),
    { X: x, FIRST: first, C: c, SEL: sel, CAND: cand },
    { d, k, trials },
    [Math.ceil(d / 256), 1, runs],
  );
  distances(1, 1);
  blockSums(1);
  for (let j = 1; j < k; j++) {
    launchKernel(
      op,
      K.ppSearchKernel({}),
      { DC: dc, BS: bs, SEL: sel, RAND: rand, CAND: cand },
      { n, blocks, trials, off: (j - 1) * trials, draws: per },
      [1, 1, runs],
    );
    distances(trials, 0);
    blockSums(trials);
    launchKernel(
      op,
      K.ppSelectKernel({}),
      { BS: bs, CAND: cand, X: x, C: c, SEL: sel },
      { blocks, trials, d, c: j, k },
      [1, 1, runs],
    );
  }
  for (const t of [first, rand, dc, bs, sel, cand]) t.dispose();
}

/**
 * Squared Euclidean distances between the rows of x [n, d] and c [k, d] as an
 * [n, k] tensor (no autograd), computed as Σ (x − c)².
 *
 * @example
 * ```ts
 * const d2 = squaredDistances(x, centers); // [n, k]
 * ```
 */
export function squaredDistances(x: Tensor, c: Tensor): Tensor {
  const op = "squaredDistances";
  checkMatrix(op, "x", x);
  checkMatrix(op, "c", c);
  if (x.shape[1] !== c.shape[1]) {
    throw new Error(
      `${op}: expected x [n, d] and c [k, d] with the same d, got ${fmtShape(x.shape)} and ${
        fmtShape(c.shape)
      }`,
    );
  }
  const [n, d] = x.shape, k = c.shape[0];
  const out = empty([n, k], "f32", op);
  launchKernel(
    op,
    pairwiseKernel({ combine: "sqdist", ...pairSpec(k, d) }),
    { A: x, B: c, OUT: out },
    { n, k, d },
    Math.ceil(n / TI),
  );
  return out;
}
