/**
 * Per-adapter kernel parameters: which matmul tile to use where.
 *
 * Tile sizes are specialisation parameters of the matmul family; the best
 * choice depends on the adapter (SIMD width, register file, workgroup memory)
 * far more than on the shape. The choices below come from measurements with
 * `deno task bench --filter matmul` (see bench/RESULTS.md) where the adapter
 * kind was available; the discrete-GPU default is a conventional choice,
 * unmeasured until the GPU benchmark runs.
 *
 * @module
 */
import type { MatmulTile } from "../../shaders/matmul.ts";
import { tileBytes } from "../../shaders/matmul.ts";
import type { AdapterInfo } from "../gpu/device.ts";

/** What tile selection looks at: the runtime's adapter info and device limits. */
export interface TuningTarget {
  info: AdapterInfo;
  limits: GPUSupportedLimits;
}

/** Adapter families with their own tuning. */
export type AdapterKind = "lavapipe" | "swiftshader" | "gpu";

/** Classifies an adapter for tuning. */
export function adapterKind(info: AdapterInfo): AdapterKind {
  const text = `${info.name} ${info.vendor} ${info.architecture}`;
  if (/llvmpipe|lavapipe/i.test(text)) return "lavapipe";
  if (/swiftshader/i.test(text)) return "swiftshader";
  return "gpu";
}

/**
 * Lavapipe runs 8 invocations per AVX2 vector and pays a scalar, per-lane
 * load for every value read from memory (shared or storage) whose address
 * differs between lanes; values whose address is the same for the whole
 * workgroup load once. The measured best tile therefore spreads threads only
 * along N (A reads are then workgroup-uniform) and gives each thread many
 * rows, trading registers for fewer per-lane loads.
 */
const LAVAPIPE: MatmulTile = { tm: 16, tn: 4, wgm: 1, wgn: 16, bk: 16 };

/** SwiftShader: same CPU trade-offs as lavapipe; unmeasured, so the lavapipe tile. */
const SWIFTSHADER: MatmulTile = LAVAPIPE;

/**
 * Discrete/integrated GPUs: 64×64 tiles, 8×8 outputs per thread (64 threads),
 * BK = 16 (8 KiB of workgroup memory). Unmeasured: a conventional default
 * until the GPU benchmark runs.
 */
const GPU: MatmulTile = { tm: 8, tn: 8, wgm: 8, wgn: 8, bk: 16 };

/** Smaller GPU tile for products with few rows (M ≤ 16), so more workgroups run. */
const GPU_SMALL_M: MatmulTile = { tm: 4, tn: 4, wgm: 4, wgn: 16, bk: 16 };

/**
 * The matmul tile for an adapter and product shape (M×K times K×N).
 *
 * @example
 * ```ts
 * const tile = matmulTile(lt.runtime(), 256, 500, 784);
 * ```
 */
export function matmulTile(target: TuningTarget, m: number, _n: number, _k: number): MatmulTile {
  const kind = adapterKind(target.info);
  let tile = kind === "lavapipe" ? LAVAPIPE : kind === "swiftshader" ? SWIFTSHADER : GPU;
  if (kind === "gpu" && m <= 16) tile = GPU_SMALL_M;
  return fitLimits(tile, target.limits);
}

/** Shrinks a tile until it fits the device's workgroup memory and invocation limits. */
export function fitLimits(tile: MatmulTile, limits: GPUSupportedLimits): MatmulTile {
  const t = { ...tile };
  while (
    (tileBytes(t) > limits.maxComputeWorkgroupStorageSize ||
      t.wgm * t.wgn > limits.maxComputeInvocationsPerWorkgroup) && t.bk > 4
  ) t.bk /= 2;
  while (t.wgm * t.wgn > limits.maxComputeInvocationsPerWorkgroup && t.wgm > 1) t.wgm /= 2;
  return t;
}
