/**
 * k-means on the GPU (Lloyd's algorithm with greedy k-means++ seeding), in
 * the manner of scikit-learn's `KMeans`
 * (https://scikit-learn.org/stable/modules/generated/sklearn.cluster.KMeans.html).
 *
 * Everything runs in GPU buffers; the host only records work and reads back
 * the 32-byte state of each run every few iterations (the kernels are in
 * `shaders/kmeans/`, recorded through the ops of `src/ops/cluster/`):
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
import { Dataset } from "../data/dataset.ts";
import { Rng } from "../data/prng.ts";
import { runtime } from "../gpu/runtime.ts";
import {
  assignRuns,
  directAssignSpec,
  KMEANS_STATE,
  KMEANS_STATE_SIZE,
  KMeansBuffers,
  KSUMS_MAX_RUNS,
  listChangedPoints,
  measureCentreShift,
  moveChangedPoints,
  nearestCentre,
  pruneCandidates,
  recordRunStats,
  relocateEmptyClusters,
  resetRuns,
  sumClusters,
  updateCentres,
} from "../ops/cluster/kmeans.ts";
import { gatherRows, kmeansPlusPlus } from "../ops/cluster/kmeans_seed.ts";
import { pairwiseDistances } from "../ops/cluster/pairwise.ts";
import { clusterSums, columnMeans } from "../ops/cluster/sums.ts";
import { copyInto, tensor } from "../ops/creation.ts";
import { firstNonFiniteRow } from "../ops/finite.ts";
import { keep } from "../tensor/scope.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { kmeansMaxRunsPerBatch, kmeansPrune } from "../ops/tuning.ts";
import { checkMatrix } from "./check.ts";
import { assignLayout, onGpu, runBytes, runningSumsFit, sumsChunks } from "./kmeans_layout.ts";

/** Largest float32 below 1: keeps u · Σ D² strictly below the total after rounding. */
const BELOW_ONE = 1 - 2 ** -24;

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

/** GPU time one block of recorded iterations aims at, between state reads. */
const BLOCK_MS = 30;
/** Most iterations recorded per block. */
const MAX_BLOCK = 16;

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
    const chunks = sumsChunks(n, k);
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
        KSUMS_MAX_RUNS,
        kmeansMaxRunsPerBatch(),
      ),
    );
    const owned: { dispose(): void }[] = [];
    const own = <T extends { dispose(): void }>(t: T): T => (owned.push(t), t);
    try {
      // Column mean and variance: scikit-learn's tolerance scale, and the non-finite check.
      const mean = own(columnMeans(op, x));
      const variance = own(
        clusterSums(op, x, { k: 1, weight: "ones", value: "sqdev", reference: mean, scale: 1 / n })
          .sums,
      );
      const buffers = own(
        new KMeansBuffers(op, {
          n,
          d,
          k,
          chunks,
          maxIter: this.maxIter,
          runs: batch,
          // Every row, for list-driven assignments that scan all points (CPU adapters).
          allRows: !onGpu() || kmeansPrune(options.history ?? false),
        }),
      );
      const rng = new Rng(this.seed);
      let best: (KMeansResult & { history?: number[] }) | null = null;
      for (let first = 0; first < this.nInit; first += batch) {
        const runs = Math.min(batch, this.nInit - first);
        const r = await this.#fitRuns(op, x, { buffers, mean, variance, runs, rng }, options);
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
    batch: { buffers: KMeansBuffers; mean: Tensor; variance: Tensor; runs: number; rng: Rng },
    options: KMeansFitOptions,
  ): Promise<KMeansResult & { history?: number[] }> {
    const { buffers: b, runs } = batch;
    const { n, d, k, rowStride } = b;
    const history = options.history ?? false;
    const rt = runtime();
    // Hamerly's pruning pays off where each scanned distance is expensive
    // (CPU adapters); its per-iteration inertia is inexact, so not with history.
    const prune = kmeansPrune(history);
    const layout = prune ? directAssignSpec(k, d) : assignLayout(k, d);
    const vec4 = layout.vec4 ?? false;
    // Running sums (CPU adapters, one chunk): after the first iteration only
    // the points that changed cluster change the sums.
    const runningSums = !onGpu() && b.chunks === 1 && runningSumsFit(n, k);
    resetRuns(op, b, {
      mean: batch.mean,
      variance: batch.variance,
      tol: this.tol,
      runs,
      prune,
      runningSums,
    });
    this.#initCenters(op, x, b.centres, runs, batch.rng);
    // Runs not known to be done (from the last state read): the column sums
    // serve several of them per thread and skip the others.
    let active = Array.from({ length: runs }, (_, r) => r);
    const sums = (t: number) => {
      if (runningSums) listChangedPoints(op, b, runs);
      if (runningSums && t > 0) moveChangedPoints(op, b, x, active);
      else sumClusters(op, b, x, active);
    };
    const iteration = (t: number) => {
      if (prune) {
        pruneCandidates(op, b, runs);
        assignRuns(op, b, x, { layout, runs, rows: "candidates", gate: true });
      } else assignRuns(op, b, x, { layout, runs, rows: "all", gate: true });
      sums(t);
      relocateEmptyClusters(op, b, x, { runs, recompute: prune, vec4, runningSums });
      updateCentres(op, b, { runs, runningSums });
      if (prune) measureCentreShift(op, b, { runs, vec4 });
      recordRunStats(op, b, { runs, final: false });
    };

    // Record iterations in blocks and read the states after each block, but
    // await a read only once the next block is submitted, so the GPU never
    // idles through a readback. Blocks start at 2 and then span about
    // BLOCK_MS of GPU time (measured between reads), so a slow adapter
    // overshoots convergence by a block or two at most and a fast one pays
    // few readbacks. Iterations recorded after a run is done return at once.
    const S = KMEANS_STATE, SZ = KMEANS_STATE_SIZE;
    let recorded = 0, block = 2;
    const recordBlock = () => {
      const m = Math.min(block, this.maxIter - recorded);
      for (let t = 0; t < m; t++) iteration(recorded + t);
      recorded += m;
      rt.flush();
    };
    recordBlock();
    let pending = b.state.toArray(), pendingAt = recorded;
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
      pending = b.state.toArray();
      pendingAt = recorded;
    }
    // Labels and inertia consistent with the final centres (scikit-learn's closing E-step).
    assignRuns(op, b, x, { layout, runs, rows: "all", gate: false });
    recordRunStats(op, b, { runs, final: true });
    const [st, centres, labels, inertias] = await Promise.all([
      b.state.toArray(),
      b.centres.toArray(),
      b.labels.toArray(),
      history ? b.inertiaHistory.toArray() : Promise.resolve(null),
    ]);
    let best = 0;
    for (let r = 1; r < runs; r++) {
      if (st[r * SZ + S.inertia] < st[best * SZ + S.inertia]) best = r;
    }
    const nIter = st[best * SZ + S.iterations];
    const kd = k * d, maxIter = this.maxIter;
    return {
      labels: (labels as Int32Array).slice(best * rowStride, best * rowStride + n),
      centers: (centres as Float32Array).slice(best * kd, (best + 1) * kd),
      inertia: st[best * SZ + S.inertia],
      nIter,
      history: inertias
        ? Array.from(inertias.subarray(best * maxIter, best * maxIter + nIter))
        : undefined,
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

  /** Initial centres of `runs` runs into centres [runs, k, d], drawing from `rng` run after run. */
  #initCenters(op: string, x: Tensor, centres: Tensor, runs: number, rng: Rng): void {
    const [n, d] = x.shape;
    const k = this.k;
    if (this.init instanceof Float32Array) {
      const given = tensor(this.init, [k, d]);
      copyInto(centres, given, { op });
      given.dispose();
      return;
    }
    if (this.init === "random") {
      // Per run, the first k entries of a seeded permutation (a partial Fisher–Yates shuffle).
      const rows = new Uint32Array(runs * k);
      for (let r = 0; r < runs; r++) {
        const perm = new Uint32Array(n);
        for (let i = 0; i < n; i++) perm[i] = i;
        for (let i = 0; i < k; i++) {
          const j = i + Math.floor(rng.uniform() * (n - i));
          [perm[i], perm[j]] = [perm[j], perm[i]];
        }
        rows.set(perm.subarray(0, k), r * k);
      }
      gatherRows(op, x, rows, centres);
      return;
    }
    // k-means++: each run draws its first centre and then (k − 1)·trials
    // uniforms from the host stream, run after run; the D² sampling runs on the GPU.
    const trials = this.localTrials;
    const perRun = (k - 1) * trials;
    const firstRows = new Uint32Array(runs);
    const draws = new Float32Array(Math.max(1, runs * perRun));
    for (let r = 0; r < runs; r++) {
      firstRows[r] = Math.min(n - 1, Math.floor(rng.uniform() * n));
      for (let i = 0; i < perRun; i++) draws[r * perRun + i] = Math.min(rng.uniform(), BELOW_ONE);
    }
    kmeansPlusPlus(op, x, centres, {
      k,
      trials,
      firstRows,
      draws,
      rowsPerThread: onGpu() ? 1 : 4,
    });
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
    return nearestCentre(op, x, this.centers, assignLayout(this.k, d));
  }

  /** Frees the fitted centres. */
  dispose(): void {
    this.centers?.dispose();
    this.centers = null;
  }
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
  return pairwiseDistances(op, x, c);
}
