/**
 * k-means on the GPU (Lloyd's algorithm with greedy k-means++ seeding), in
 * the manner of scikit-learn's `KMeans`
 * (https://scikit-learn.org/stable/modules/generated/sklearn.cluster.KMeans.html).
 *
 * Everything runs in GPU buffers; the host only records work and reads back a
 * 32-byte state vector every few iterations (see `shaders/kmeans.ts`):
 *
 * - **Seeding** (`init: "k-means++"`): scikit-learn's greedy k-means++ — each
 *   new centre is the best of `2 + ⌊ln k⌋` candidates drawn by D² sampling.
 *   The random numbers come from a seeded host generator and are uploaded
 *   once per run; the D² sampling itself (block sums over the distances, a
 *   search of the running sum, candidate potentials, the arg-min) runs on
 *   the GPU, so seeding needs no readback at all (4 dispatches per centre).
 * - **Lloyd iterations**: a fused nearest-centre kernel, per-cluster sums as a
 *   segmented reduction (no float atomics, hence bit-reproducible), empty
 *   clusters relocated to the farthest points as scikit-learn does, then the
 *   centre shift and inertia reduced on the GPU. Convergence follows
 *   scikit-learn: stop when no label changes, or when Σ‖c_new − c_old‖² ≤
 *   tol · mean(var(x, axis=0)), or after `maxIter` iterations. The host reads
 *   the state after 2, 4, 8, 16, then every 16 iterations; iterations
 *   recorded after convergence return at once on the GPU.
 * - **Restarts**: `nInit` runs, keeping the one with the lowest inertia.
 *
 * Differences from scikit-learn: float32 arithmetic; distances are computed
 * as Σ (x − c)² rather than with the ‖x‖² − 2x·c + ‖c‖² expansion; the random
 * stream is latent's own, so the same seed gives different (but
 * reproducible) centres than NumPy would.
 *
 * @module
 */
import { pairTiles, pairwiseKernel, TI } from "../../shaders/distance.ts";
import { runtime } from "../gpu/runtime.ts";
import { adapterKind } from "../ops/tuning.ts";
import * as K from "../../shaders/kmeans.ts";
import { assign, fillInPlace, tensor } from "../ops/creation.ts";
import { launch, Uniforms } from "../ops/kernel_call.ts";
import { empty, fmtShape, type Tensor } from "../tensor/tensor.ts";
import { keep } from "../tensor/scope.ts";

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
  const nChunks = Math.max(1, Math.min(64, Math.ceil(n / 256)));
  const fc = Math.min(64, nextPow2(d));
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
  launch(
    op,
    K.clusterSumsKernel({ ...spec, fc: plan.fc, gated: spec.gated ?? false }),
    [x, ...aux],
    [part, wpart],
    new Uniforms().u32(n).u32(d).u32(k).u32(plan.chunk).u32(gate),
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
  launch(
    op,
    K.chunkSumKernel({}),
    [part],
    [out],
    new Uniforms().u32(e).u32(chunks).f32(scale),
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
  return pairTiles(k, d, adapterKind(runtime().info) === "gpu");
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
  if (x.dtype !== "f32" || x.rank !== 2 || x.shape[0] < 1 || x.shape[1] < 1) {
    throw new Error(
      `${where}: expected ${name} to be a non-empty f32 tensor [n, d], got ${
        fmtShape(x.shape)
      } ${x.dtype}`,
    );
  }
}

/** mulberry32: the seeded host stream behind seeding choices (see the module comment). */
class HostRng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
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
 * k-means clustering on the GPU.
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
    if (!Number.isInteger(seed)) throw new Error(`${where}: expected an integer seed, got ${seed}`);
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
   * Clusters the rows of x ([n, d] f32, on the GPU).
   *
   * Throws before any GPU work for k > n or a malformed x, and after one
   * small readback if x holds NaN or ±Inf.
   *
   * @example
   * ```ts
   * const { labels, inertiaHistory } = await new KMeans({ k: 4 }).fit(x, { history: true });
   * ```
   */
  async fit(x: Tensor, options: KMeansFitOptions = {}): Promise<KMeansResult> {
    const op = "KMeans.fit";
    checkMatrix(op, "x", x);
    const [n, d] = x.shape;
    const k = this.k;
    if (n < k) {
      throw new Error(
        `${op}: expected at least k=${k} samples, got n=${n} (x is ${fmtShape(x.shape)})`,
      );
    }
    this.#checkInit(op, d);
    const owned: Tensor[] = [];
    const own = <T extends Tensor>(t: T): T => (owned.push(t), t);
    try {
      // Column mean and variance: scikit-learn's tolerance scale, and the non-finite check.
      const mean = own(columnMeans(op, x));
      const variance = own(empty([d], "f32", op));
      clusterSums(op, { weight: "ones", value: "sqdev" }, x, 1, [mean], variance, 1 / n);
      const state = own(empty([K.KMEANS_STATE_SIZE], "f32", op));
      const reset = () =>
        launch(
          op,
          K.resetKernel({}),
          [mean, variance],
          [state],
          new Uniforms().u32(d).f32(this.tol),
          1,
        );
      reset();
      const st0 = await state.toArray();
      if (st0[K.KMEANS_STATE.nonFinite] !== 0) {
        throw new Error(
          `${op}: x contains NaN or infinite values (a column mean or variance of x is not finite)`,
        );
      }

      const c = own(empty([k, d], "f32", op));
      const labels = own(empty([n], "i32", op));
      const mind = own(empty([n], "f32", op));
      const changed = own(empty([n], "u32", op));
      const sums = own(empty([k * d], "f32", op));
      const counts = own(empty([k], "f32", op));
      const shift = own(empty([k * d], "f32", op));
      const hist = own(empty([this.maxIter], "f32", op));
      const bestC = own(empty([k, d], "f32", op));
      const bestLabels = own(empty([n], "i32", op));
      const rng = new HostRng(this.seed);

      const iteration = () => {
        launch(
          op,
          K.assignKernel(pairSpec(k, d)),
          [x, c, state],
          [labels, mind, changed],
          new Uniforms().u32(n).u32(k).u32(d).u32(1),
          Math.ceil(n / TI),
        );
        clusterSums(
          op,
          { weight: "labels", value: "x", gated: true },
          x,
          k,
          [labels, state],
          sums,
          1,
          counts,
          1,
        );
        launch(
          op,
          K.relocateKernel({}),
          [x, mind, labels, state],
          [sums, counts],
          new Uniforms().u32(n).u32(k).u32(d).u32(1),
          1,
        );
        launch(
          op,
          K.updateKernel({}),
          [sums, counts, state],
          [c, shift],
          new Uniforms().u32(k * d).u32(d).u32(1),
          Math.ceil((k * d) / 256),
        );
        launch(
          op,
          K.statsKernel({}),
          [mind, changed, shift],
          [state, hist],
          new Uniforms().u32(n).u32(k * d).u32(this.maxIter).u32(0),
          1,
        );
      };

      let best: { inertia: number; nIter: number; history?: number[] } | null = null;
      for (let run = 0; run < this.nInit; run++) {
        if (run > 0) reset();
        fillInPlace(labels, -1);
        this.#initCenters(op, x, c, rng);
        let recorded = 0, block = 2;
        for (;;) {
          const m = Math.min(block, this.maxIter - recorded);
          for (let t = 0; t < m; t++) iteration();
          recorded += m;
          block = Math.min(16, block * 2);
          const st = await state.toArray();
          if (st[K.KMEANS_STATE.done] !== 0 || recorded >= this.maxIter) break;
        }
        // Labels and inertia consistent with the final centres (scikit-learn's closing E-step).
        launch(
          op,
          K.assignKernel(pairSpec(k, d)),
          [x, c, state],
          [labels, mind, changed],
          new Uniforms().u32(n).u32(k).u32(d).u32(0),
          Math.ceil(n / TI),
        );
        launch(
          op,
          K.statsKernel({}),
          [mind, changed, shift],
          [state, hist],
          new Uniforms().u32(n).u32(k * d).u32(this.maxIter).u32(1),
          1,
        );
        const st = await state.toArray();
        const inertia = st[K.KMEANS_STATE.inertia];
        const nIter = st[K.KMEANS_STATE.iterations];
        if (!best || inertia < best.inertia) {
          best = { inertia, nIter };
          if (options.history) {
            best.history = Array.from((await hist.toArray()).subarray(0, nIter));
          }
          assign(bestC, c);
          assign(bestLabels, labels);
        }
      }
      const result: KMeansResult = {
        labels: (await bestLabels.toArray()) as Int32Array,
        centers: (await bestC.toArray()) as Float32Array,
        inertia: best!.inertia,
        nIter: best!.nIter,
      };
      if (options.history) result.inertiaHistory = best!.history;
      this.centers?.dispose();
      owned.splice(owned.indexOf(bestC), 1);
      this.centers = keep(bestC);
      this.result = result;
      return result;
    } finally {
      for (const t of owned) t.dispose();
    }
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
    this.#initCenters(op, x, c, new HostRng(this.seed));
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

  #initCenters(op: string, x: Tensor, c: Tensor, rng: HostRng): void {
    const [n, d] = x.shape;
    const k = this.k;
    if (this.init instanceof Float32Array) {
      const t = tensor(this.init, [k, d]);
      assign(c, t);
      t.dispose();
      return;
    }
    if (this.init === "random") {
      // The first k entries of a seeded permutation (a partial Fisher–Yates shuffle).
      const perm = new Uint32Array(n);
      for (let i = 0; i < n; i++) perm[i] = i;
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(rng.next() * (n - i));
        [perm[i], perm[j]] = [perm[j], perm[i]];
      }
      const idx = tensor(perm.slice(0, k), [k]);
      launch(
        op,
        K.gatherRowsKernel({}),
        [x, idx],
        [c],
        new Uniforms().u32(k * d).u32(d),
        Math.ceil((k * d) / 256),
      );
      idx.dispose();
      return;
    }
    kmeansPlusPlus(op, x, c, k, this.localTrials, rng);
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
    launch(
      op,
      K.assignKernel(pairSpec(this.k, d)),
      [x, this.centers, state],
      [labels, mind, changed],
      new Uniforms().u32(n).u32(this.k).u32(d).u32(0),
      Math.ceil(n / TI),
    );
    mind.dispose();
    changed.dispose();
    state.dispose();
    return labels;
  }

  /** Frees the fitted centres. */
  dispose(): void {
    this.centers?.dispose();
    this.centers = null;
  }
}

/**
 * Greedy k-means++ (Arthur & Vassilvitskii 2007; scikit-learn's
 * `_kmeans_plusplus`) into c [k, d], entirely on the GPU. Per new centre:
 * search (D² sampling of `trials` candidates from the running sum of the
 * nearest-centre distances) → candidate distances → block sums → select.
 * Row SEL[0] of the candidate matrix holds the current nearest-centre
 * distances, so nothing is copied between steps.
 */
function kmeansPlusPlus(
  op: string,
  x: Tensor,
  c: Tensor,
  k: number,
  trials: number,
  rng: HostRng,
): void {
  const [n, d] = x.shape;
  const blocks = Math.ceil(n / K.PP_BLOCK);
  const first = Math.min(n - 1, Math.floor(rng.next() * n));
  const draws = new Float32Array(Math.max(1, (k - 1) * trials));
  for (let i = 0; i < (k - 1) * trials; i++) draws[i] = Math.min(rng.next(), BELOW_ONE);
  const rand = tensor(draws, [draws.length]);
  const dc = empty([trials * n], "f32", op);
  const bs = empty([trials * blocks], "f32", op);
  const sel = empty([1], "u32", op);
  const cand = empty([trials], "u32", op);
  launch(
    op,
    K.ppFirstKernel({}),
    [x],
    [dc, c, sel],
    new Uniforms().u32(n).u32(d).u32(first),
    Math.ceil(Math.max(n, d) / 256),
  );
  const blockSums = (rows: number) =>
    launch(op, K.blockSumKernel({}), [dc], [bs], new Uniforms().u32(n).u32(blocks), [
      blocks,
      rows,
    ]);
  blockSums(1);
  for (let j = 1; j < k; j++) {
    launch(
      op,
      K.ppSearchKernel({}),
      [dc, bs, sel, rand],
      [cand],
      new Uniforms().u32(n).u32(blocks).u32(trials).u32((j - 1) * trials),
      1,
    );
    launch(
      op,
      K.ppCandDistKernel({}),
      [x, cand, sel],
      [dc],
      new Uniforms().u32(n).u32(d).u32(trials),
      Math.ceil(n / 256),
    );
    blockSums(trials);
    launch(
      op,
      K.ppSelectKernel({}),
      [bs, cand, x],
      [c, sel],
      new Uniforms().u32(blocks).u32(trials).u32(d).u32(j),
      1,
    );
  }
  for (const t of [rand, dc, bs, sel, cand]) t.dispose();
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
  launch(
    op,
    pairwiseKernel({ combine: "sqdist", ...pairSpec(k, d) }),
    [x, c],
    [out],
    new Uniforms().u32(n).u32(k).u32(d),
    Math.ceil(n / TI),
  );
  return out;
}
