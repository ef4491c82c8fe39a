/**
 * Every per-adapter choice latent makes, in one place: whether the adapter
 * runs shaders on the CPU, and from that the matmul and convolution tiles,
 * the convolution's row runs, split-K and folding, the reduction profile and
 * the k-means chunking and pruning. The ops ask the functions here; nothing
 * else looks at the adapter.
 *
 * Tile sizes are specialisation parameters of their kernel families; the best
 * choice depends on the adapter (SIMD width, register file, how memory loads
 * are executed) far more than on the shape. Measured choices come from
 * `deno task bench --filter matmul` / `--filter conv` and sweeps of tiles
 * (bench/RESULTS.md); the discrete-GPU choices are conventional defaults,
 * unmeasured until the GPU benchmark runs.
 *
 * {@link withTuning} overrides any of the choices for what a function
 * records: tests run the GPU configurations on a CPU adapter (and the other
 * way round), benchmarks compare tiles.
 *
 * @module
 */
import type { ConvTile } from "../../shaders/conv2d.ts";
import { type MatmulTile, tileBytes } from "../../shaders/matmul.ts";
import { CPU_REDUCE, GPU_REDUCE, type ReduceProfile } from "../../shaders/reduce.ts";
import { restoreAfter, runtime } from "../gpu/runtime.ts";

/**
 * The two families latent tunes for: `cpu` for adapters that run shaders on
 * the CPU (lavapipe, SwiftShader: every lane-varying load is a scalar load,
 * barriers are expensive), `gpu` for everything else.
 */
export type AdapterKind = "cpu" | "gpu";

/** Explicit convolution kernel choices; each one left out keeps the adapter's default. */
export interface ConvTuning {
  /** The tile of every implicit-GEMM product (default: {@link convTile}'s choice). */
  tile?: ConvTile;
  /** dw: number of K splits (default: enough workgroups to fill the adapter). */
  splits?: number;
  /**
   * fwd products without a folded derivative: the row-run kernel
   * (`conv2dRowsKernel`) instead of the implicit GEMM. Default: on CPU
   * adapters for up to 8 output channels, unless a tile is given.
   */
  rows?: boolean;
  /**
   * Backward: multiply the output gradient by act'(y) in one pass before the
   * products (true) or inside their loads (false). Default: a pass first on
   * CPU adapters, folded on GPUs.
   */
  prefold?: boolean;
}

/** Explicit k-means choices; each one left out keeps the adapter's default. */
export interface KMeansTuning {
  /** Most restarts run side by side (default: as many as a storage binding holds). */
  maxRunsPerBatch?: number;
  /**
   * Points per chunk of the column sums (default: 1024 on GPUs, one chunk on
   * CPU adapters; more than one chunk also turns off their running sums).
   */
  chunkPoints?: number;
  /** Prune the assignment with Hamerly's bounds (default: on CPU adapters, without history). */
  prune?: boolean;
}

/** Overrides for {@link withTuning}; what is left out keeps the adapter's choice. */
export interface Tuning {
  /**
   * Tune as for this kind of adapter instead of the actual one: every choice
   * not given explicitly below follows it.
   */
  adapter?: AdapterKind;
  /** Convolution kernels. */
  conv?: ConvTuning;
  /** Reductions, softmax and cross-entropies (`CPU_REDUCE`, `GPU_REDUCE` or another profile). */
  reduce?: ReduceProfile;
  /** k-means. */
  kmeans?: KMeansTuning;
  /** Most parameters one optimizer dispatch updates (default: as many as the bindings allow). */
  optimTensors?: number;
  /** A dense layer's input and weight gradients in one dispatch (default: on GPUs only). */
  pairProducts?: boolean;
}

let tuning: Tuning = {};

/**
 * Runs `fn` with tuning overrides for everything it records. Scopes nest
 * (inner choices win field by field); an async `fn` keeps them until it
 * settles, so nothing else may record meanwhile.
 *
 * @example
 * ```ts
 * // The GPU configuration of k-means on any adapter, restarts two at a time:
 * await withTuning({ adapter: "gpu", kmeans: { maxRunsPerBatch: 2 } }, () =>
 *   new lt.cluster.KMeans({ k: 3, nInit: 5 }).fit(x));
 * withTuning({ conv: { splits: 1 } }, () => lt.backward(loss));
 * ```
 */
export function withTuning<T>(overrides: Tuning, fn: () => T): T {
  const prev = tuning;
  tuning = {
    ...prev,
    ...overrides,
    conv: { ...prev.conv, ...overrides.conv },
    kmeans: { ...prev.kmeans, ...overrides.kmeans },
  };
  return restoreAfter(fn, () => (tuning = prev));
}

/**
 * The kind of the runtime's adapter, or the one {@link withTuning} asks for.
 * The runtime decides once, when it acquires the device: `info.isFallback`
 * (src/gpu/device.ts) is the adapter's own flag, or failing that its name.
 *
 * @example
 * ```ts
 * adapterKind(); // "cpu" on a machine without a GPU (lavapipe)
 * ```
 */
export function adapterKind(): AdapterKind {
  return tuning.adapter ?? (runtime().info.isFallback ? "cpu" : "gpu");
}

// ------------------------------------------------------------------ matmul

/**
 * Lavapipe (Mesa 22.3, AVX2): every load whose address may differ between
 * the 8 SIMD lanes runs as 8 scalar loads, from workgroup memory as much as
 * from storage buffers, and barriers turn each SIMD group into a coroutine.
 * Staging in workgroup memory therefore only adds work (8x8 staged tiles ran
 * at half the speed); reading directly with a 16×8 register block per thread
 * measured best or within noise of the best (16×16, 8×16, 32×8) on every
 * autoencoder shape and transpose variant, and compiles fastest of those.
 * Lanes run along N (2×8 threads), so neighbouring lanes read neighbouring
 * columns of B and the same row of A.
 */
const LAVAPIPE: MatmulTile = { tm: 16, tn: 8, wgm: 2, wgn: 8, bk: 4, stage: false };
/**
 * Lavapipe (Mesa 25.0, which the demos and benchmarks run on), products
 * that do not read B transposed (the forward A·B and the weight gradient
 * Aᵀ·B): 8×8 register blocks on 4×8 threads. Measured on 2 idle cores with
 * `deno task bench --filter "/matmul-tiles.*(256x784x500|256x500x2000)/"
 * --quick` (2026-12-06): A·B 17.4 vs 20.6 ms (256×784×500) and 40.4 vs
 * 51.0 ms (256×500×2000), Aᵀ·B 16.5 vs 18.4 and 39.0 vs 42.0 ms against
 * {@link LAVAPIPE}; for A·Bᵀ LAVAPIPE stayed fastest (12.7 vs 17.5 and
 * 29.2 vs 38.9 ms).
 */
const LAVAPIPE_NO_TRANS_B: MatmulTile = { tm: 8, tn: 8, wgm: 4, wgn: 8, bk: 4, stage: false };
/** Lavapipe, N ≤ 16 (e.g. 256×2000×10): 4 threads along N waste fewer columns (3.2 vs 1.2 GFLOP/s). */
const LAVAPIPE_THIN_N: MatmulTile = { tm: 16, tn: 4, wgm: 2, wgn: 4, bk: 4, stage: false };
/** Lavapipe, M ≤ 16: the mirror image of the thin-N tile (unmeasured). */
const LAVAPIPE_THIN_M: MatmulTile = { tm: 4, tn: 16, wgm: 4, wgn: 2, bk: 4, stage: false };

/**
 * Discrete/integrated GPUs: 64×64 tiles staged in workgroup memory, 8×8
 * outputs per thread (64 threads), BK = 16 (8 KiB of workgroup memory).
 * Unmeasured: a conventional default until the GPU benchmark runs.
 */
const GPU: MatmulTile = { tm: 8, tn: 8, wgm: 8, wgn: 8, bk: 16, stage: true };
/** GPUs, M ≤ 16: 16×64 tiles so a thin product still spreads over workgroups (unmeasured). */
const GPU_THIN_M: MatmulTile = { tm: 4, tn: 4, wgm: 4, wgn: 16, bk: 16, stage: true };
/** GPUs, N ≤ 16: 64×16 tiles (unmeasured). */
const GPU_THIN_N: MatmulTile = { tm: 4, tn: 4, wgm: 16, wgn: 4, bk: 16, stage: true };

/**
 * The matmul tile for a product of [m, k] by [k, n] on the current adapter
 * (`transB`: B is stored [n, k] and read transposed), shrunk to the device's
 * limits. SwiftShader gets the lavapipe choices, unmeasured.
 *
 * @example
 * ```ts
 * const tile = matmulTile(256, 500, 784);
 * ```
 */
export function matmulTile(m: number, n: number, _k: number, transB = false): MatmulTile {
  const cpu = adapterKind() === "cpu";
  let tile: MatmulTile;
  if (n <= 16 && n < m) tile = cpu ? LAVAPIPE_THIN_N : GPU_THIN_N;
  else if (m <= 16) tile = cpu ? LAVAPIPE_THIN_M : GPU_THIN_M;
  else tile = cpu ? (transB ? LAVAPIPE : LAVAPIPE_NO_TRANS_B) : GPU;
  return fitLimits(tile, runtime().limits);
}

/** Shrinks a tile until it fits the device's workgroup memory and invocation limits. */
function fitLimits(tile: MatmulTile, limits: GPUSupportedLimits): MatmulTile {
  const t = { ...tile };
  while (t.wgm * t.wgn > limits.maxComputeInvocationsPerWorkgroup && t.wgm > 1) t.wgm /= 2;
  while (tileBytes(t) > limits.maxComputeWorkgroupStorageSize && t.bk > 4) t.bk /= 2;
  return t;
}

// ------------------------------------------------------------- convolution

/**
 * The tile of a convolution product of M rows and N columns on the current
 * adapter, unless {@link withTuning} forces one.
 *
 * GPUs: 4×4 outputs per thread, threads spread over N as far as N fills
 * them, and over M (up to 256 threads) for the rest; small M shrinks the
 * tile so a small product still fills workgroups. Unmeasured on real GPUs so
 * far: a conventional choice.
 *
 * CPU adapters (lavapipe, SwiftShader) run 8 invocations per vector, pay a
 * scalar load per lane for every address that differs between lanes, and
 * have no vector integer division. Their tiles are direct (one thread owns
 * whole rows across all N columns): A is gathered straight into registers
 * with incremental index stepping, and every thread reads the same B
 * element at once, from storage: no workgroup memory and no barriers (with
 * a barrier, lavapipe runs a workgroup's invocations as coroutines; dropping
 * the staged B made the conv autoencoder's products 1.5–4× faster, most for
 * K = 9 and N = 1). Measured on lavapipe at the conv-autoencoder shapes
 * (see bench/conv_bench.ts): with B read from storage, 8 rows × 16 columns
 * per thread for N = 16 was the fastest of the tiles tried (1.2–1.4× 4 × 16
 * for fwd, dx and dw; 2 × 16 slowest: what counts is how many FMAs share a
 * gather and a B load, not register pressure); for N = 1, 16 rows measured
 * ~15% faster than 8 with the staged B, but 8 is the cap (see below).
 *
 * @example
 * ```ts
 * convTile(145, 16); // lavapipe: { tm: 8, tn: 16, wgm: 19, wgn: 1, bk: 16 }
 * ```
 */
export function convTile(m: number, n: number): ConvTile {
  const forced = tuning.conv?.tile;
  if (forced) return forced;
  if (adapterKind() === "cpu") {
    let tn = 1;
    while (tn < n && tn < 16) tn *= 2;
    // At most 8 rows per thread: SwiftShader's shader compiler stalls for
    // minutes on 16 (16 hoisted row descriptors, 16 inlined gathers a step).
    let t: ConvTile = { tm: Math.min(8, 128 / tn), tn, wgm: 16, wgn: 1, bk: 16 };
    while (t.wgm > 4 && (t.wgm * t.tm) / 2 >= m) t = { ...t, wgm: t.wgm / 2 };
    while (t.tm > 1 && (t.wgm * t.tm) / 2 >= m) t = { ...t, tm: t.tm / 2 };
    // Few rows (the dw products: taps): one workgroup spans them all rather
    // than a second tile of mostly idle rows (145 rows: ~10% faster on lavapipe).
    if (m <= 64 * t.tm) t = { ...t, wgm: Math.ceil(m / t.tm) };
    return t;
  }
  let t: ConvTile;
  if (n >= 48) t = { tm: 4, tn: 4, wgm: 16, wgn: 16, bk: 16 };
  else if (n >= 24) t = { tm: 4, tn: 4, wgm: 32, wgn: 8, bk: 16 };
  else if (n >= 12) t = { tm: 4, tn: 4, wgm: 64, wgn: 4, bk: 8 };
  else if (n >= 6) t = { tm: 4, tn: 2, wgm: 64, wgn: 4, bk: 8 };
  else if (n >= 3) t = { tm: 4, tn: 1, wgm: 64, wgn: 4, bk: 8 };
  else if (n === 2) t = { tm: 2, tn: 1, wgm: 128, wgn: 2, bk: 8 };
  else t = { tm: 1, tn: 1, wgm: 256, wgn: 1, bk: 8 };
  while (t.wgm > 1 && (t.wgm * t.tm) / 2 >= m && t.wgm * t.wgn > 32) t = { ...t, wgm: t.wgm / 2 };
  while (t.tm > 1 && (t.wgm * t.tm) / 2 >= m) t = { ...t, tm: t.tm / 2 };
  return t;
}

/**
 * Whether a forward product of `n` output channels without a folded
 * derivative runs as row runs (`conv2dRowsKernel`) rather than the implicit
 * GEMM: on CPU adapters for up to 8 output channels (1: 1.5x the GEMM on
 * lavapipe, 4 and 8: 1.3x; 16: 0.6x, where the GEMM's gathers are already
 * shared by 16 columns and the run's registers spill), unless a tile is forced.
 *
 * @example
 * ```ts
 * convRowRuns(1); // true on lavapipe
 * ```
 */
export function convRowRuns(n: number): boolean {
  const forced = tuning.conv;
  return forced?.rows ?? (!forced?.tile && n <= 8 && adapterKind() === "cpu");
}

/**
 * K splits of a kernel-gradient product of `tiles` output tiles, at most
 * `maxSplits`: enough workgroups to fill the adapter (8 on CPU adapters, 512
 * on GPUs). The caller still raises it to what the loop budget needs.
 *
 * @example
 * ```ts
 * convSplits(2, 40); // 4 on lavapipe
 * ```
 */
export function convSplits(tiles: number, maxSplits: number): number {
  const target = adapterKind() === "cpu" ? 8 : 512;
  return tuning.conv?.splits ?? Math.min(maxSplits, Math.ceil(target / tiles));
}

/**
 * Whether the backward multiplies the output gradient by act'(y) in a pass
 * of its own before the products instead of inside their loads. The fold
 * costs a load of y and act' per gathered element, and the dx product
 * gathers each gradient element kh·kw times: on CPU adapters, where every
 * gathered element is a scalar load per lane, the pass first made the conv
 * autoencoder's 16→16 backward ~1.3× faster. GPUs keep the fold (one pass
 * over memory less).
 *
 * @example
 * ```ts
 * convPrefold(); // true on lavapipe
 * ```
 */
export function convPrefold(): boolean {
  return tuning.conv?.prefold ?? adapterKind() === "cpu";
}

// -------------------------------------------------------------- reductions

/**
 * The reduction profile (reductions, softmax, cross-entropies): small
 * workgroups with long per-thread loops on CPU adapters, many threads per
 * row on GPUs (shaders/reduce.ts).
 *
 * @example
 * ```ts
 * reduceProfile(); // CPU_REDUCE on lavapipe
 * ```
 */
export function reduceProfile(): ReduceProfile {
  return tuning.reduce ?? (adapterKind() === "cpu" ? CPU_REDUCE : GPU_REDUCE);
}

// ----------------------------------------------------------------- k-means

/**
 * Points per chunk of the k-means column sums (a thread walks one chunk):
 * about 1024 on GPUs; all of them on CPU adapters (the columns already give
 * enough threads, and one chunk allows running sums).
 *
 * @example
 * ```ts
 * kmeansChunkPoints(); // Infinity on lavapipe
 * ```
 */
export function kmeansChunkPoints(): number {
  return tuning.kmeans?.chunkPoints ?? (adapterKind() === "cpu" ? Infinity : 1024);
}

/**
 * Most k-means restarts run side by side: unlimited (the storage-binding
 * limit alone splits them) unless a test asks for finer batches.
 *
 * @example
 * ```ts
 * kmeansMaxRunsPerBatch(); // Infinity
 * ```
 */
export function kmeansMaxRunsPerBatch(): number {
  return tuning.kmeans?.maxRunsPerBatch ?? Infinity;
}

/**
 * Whether a k-means fit prunes its assignment with Hamerly's bounds. That
 * pays off where each scanned distance is expensive (CPU adapters); the
 * pruned per-iteration inertia is inexact, so not for a fit with `history`.
 *
 * @example
 * ```ts
 * kmeansPrune(false); // true on lavapipe
 * ```
 */
export function kmeansPrune(history: boolean): boolean {
  return tuning.kmeans?.prune ?? (adapterKind() === "cpu" && !history);
}

/**
 * Whether a dense layer's backward runs its input and weight gradients as
 * one dispatch (`matmulPairRaw`). On GPUs: one launch per layer fewer
 * (unmeasured until the GPU benchmark runs). Not on CPU adapters: lavapipe
 * runs the paired kernel 1.3–1.9× slower than the two products (256×500×2000
 * layer, `matmulPairRaw` against two `matmulRaw`, 2026-12-06: 114 vs 61 ms
 * with the default tiles, 93 vs 68 and 82 vs 62 with one tile for both),
 * which took the DEC autoencoder's step from 310–338 to 462–478 ms; the
 * products run inside a branch on the workgroup, where llvmpipe executes
 * every load as a masked gather.
 *
 * @example
 * ```ts
 * pairProducts(); // false on lavapipe
 * ```
 */
export function pairProducts(): boolean {
  return tuning.pairProducts ?? adapterKind() === "gpu";
}

// --------------------------------------------------------------- optimizer

/**
 * How many parameters one optimizer dispatch updates, each binding
 * `buffersPerTensor` storage buffers (plus `extra`, the norms when clipping
 * by norm), under the device's storage-buffer limit and at most 16: lavapipe
 * allows 48 bindings and Adam binds 3 per parameter (G, P, and its m and v
 * side by side in S), so the DEC autoencoder's whole update (16 tensors) is
 * one dispatch instead of 16; the WebGPU default of 8 still pairs tensors.
 * The uniform block holds two words per tensor, so 16 stays well under its
 * size.
 *
 * @example
 * ```ts
 * optimTensorsPerDispatch(3, 0); // 16 on lavapipe (Adam: G, P, S)
 * ```
 */
export function optimTensorsPerDispatch(buffersPerTensor: number, extra: number): number {
  const limit = runtime().limits.maxStorageBuffersPerShaderStage;
  const fit = Math.max(1, Math.floor((limit - extra) / buffersPerTensor));
  return Math.max(1, Math.min(tuning.optimTensors ?? 16, fit, 16));
}
