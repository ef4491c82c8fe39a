/**
 * Per-adapter kernel parameters: which matmul tile to use where.
 *
 * Tile sizes are specialisation parameters of the matmul family; the best
 * choice depends on the adapter (SIMD width, register file, how memory loads
 * are executed) far more than on the shape. Measured choices come from
 * `deno task bench --filter matmul` and a sweep of tiles (bench/RESULTS.md);
 * the discrete-GPU choice is a conventional default, unmeasured until the GPU
 * benchmark runs.
 *
 * @module
 */
import { type MatmulTile, tileBytes } from "../../shaders/matmul.ts";
import type { AdapterInfo } from "../gpu/device.ts";

/** What tile selection looks at: the runtime's adapter info and device limits. */
export interface TuningTarget {
  info: AdapterInfo;
  limits: GPUSupportedLimits;
}

/** Adapter families with their own tuning. */
export type AdapterKind = "lavapipe" | "swiftshader" | "gpu";

/**
 * Classifies an adapter for tuning.
 *
 * @example
 * ```ts
 * adapterKind(lt.runtime().info); // "lavapipe" on a machine without a GPU
 * ```
 */
export function adapterKind(info: AdapterInfo): AdapterKind {
  const text = `${info.name} ${info.vendor} ${info.architecture}`;
  if (/llvmpipe|lavapipe/i.test(text)) return "lavapipe";
  if (/swiftshader/i.test(text)) return "swiftshader";
  return "gpu";
}

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
 * The matmul tile for an adapter and a product of [m, k] by [k, n].
 * SwiftShader (CPU, like lavapipe) gets the lavapipe choices, unmeasured.
 *
 * @example
 * ```ts
 * const tile = matmulTile(lt.runtime(), 256, 500, 784);
 * ```
 */
export function matmulTile(target: TuningTarget, m: number, n: number, _k: number): MatmulTile {
  const cpu = adapterKind(target.info) !== "gpu";
  let tile: MatmulTile;
  if (n <= 16 && n < m) tile = cpu ? LAVAPIPE_THIN_N : GPU_THIN_N;
  else if (m <= 16) tile = cpu ? LAVAPIPE_THIN_M : GPU_THIN_M;
  else tile = cpu ? LAVAPIPE : GPU;
  return fitLimits(tile, target.limits);
}

/** Shrinks a tile until it fits the device's workgroup memory and invocation limits. */
export function fitLimits(tile: MatmulTile, limits: GPUSupportedLimits): MatmulTile {
  const t = { ...tile };
  while (t.wgm * t.wgn > limits.maxComputeInvocationsPerWorkgroup && t.wgm > 1) t.wgm /= 2;
  while (tileBytes(t) > limits.maxComputeWorkgroupStorageSize && t.bk > 4) t.bk /= 2;
  return t;
}
